namespace MagDi.Tasks;

/// <summary>The shape of a task's final answer, which decides how answers are extracted and compared.</summary>
public enum AnswerKind
{
    /// <summary>A yes/no answer (StrategyQA, BoolQ); canonical forms <c>yes</c> and <c>no</c>.</summary>
    YesNo,

    /// <summary>An option label (CommonsenseQA/ECQA, ARC, AQuA); canonical form is the upper-case label or option number.</summary>
    MultipleChoice,

    /// <summary>A number (GSM8K, SVAMP); commas, currency and units are ignored and <c>42.0</c> equals <c>42</c>.</summary>
    Number,

    /// <summary>A LaTeX expression (MATH), compared after the usual LaTeX normalisation.</summary>
    Math,

    /// <summary>Free text compared case- and whitespace-insensitively (user-defined tasks).</summary>
    FreeText,
}
