using MagDi.Tokenization;

namespace MagDi.Testing;

/// <summary>Compares <see cref="SpecialTokens"/> field by field (it is a class without value equality).</summary>
public static class SpecialTokenFields
{
    /// <summary>Every field of <paramref name="s"/> as one tuple, for <c>Assert.Equal</c>.</summary>
    public static object Of(SpecialTokens s) =>
        (s.BosId, s.EosId, s.PadId, s.UnkId, s.BosToken, s.EosToken, s.PadToken, s.AddBosToken, s.AddEosToken);
}
