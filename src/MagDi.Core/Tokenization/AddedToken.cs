namespace MagDi.Tokenization;

/// <summary>An added token of tokenizer.json (<c>added_tokens</c>) or tokenizer_config.json (<c>added_tokens_decoder</c>).</summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false, bool SingleWord = false, bool Normalized = false);
