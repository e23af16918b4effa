namespace MagDi.Tokenization;

/// <summary>Where a text segment sits, which decides whether prefix-adding steps (Prepend, add_prefix_space, Metaspace) apply.</summary>
/// <param name="AllowPrefix">False for a continuation segment (a target appended to a prompt): no prefix is added.</param>
/// <param name="IsFirst">True for the first segment of the whole text (Metaspace prepend_scheme "first").</param>
internal readonly record struct SegmentContext(bool AllowPrefix, bool IsFirst);
