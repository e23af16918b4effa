using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;

namespace MagDi.Tokenization;

/// <summary>The GPT-2 byte-to-unicode table: every byte maps to one printable character (space becomes 'Ġ').</summary>
internal static class ByteLevel
{
    /// <summary>The GPT-2 pre-tokenization pattern (also used by tokenizers' ByteLevel pre-tokenizer with use_regex).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly char[] s_byteToChar = BuildTable();
    private static readonly Dictionary<char, byte> s_charToByte = BuildReverse();
    private static readonly short[] s_charToByteTable = BuildReverseTable();

    public static Regex Gpt2Regex { get; } = new(Gpt2Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    public static char ByteToChar(byte b) => s_byteToChar[b];

    public static bool TryCharToByte(char c, out byte b) => s_charToByte.TryGetValue(c, out b);

    /// <summary>Maps the UTF-8 bytes of <paramref name="text"/> to byte-level characters.</summary>
    public static string Encode(ReadOnlySpan<char> text)
    {
        int byteCount = Encoding.UTF8.GetByteCount(text);
        Span<byte> bytes = byteCount <= 1024 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(text, bytes);
        Span<char> chars = byteCount <= 1024 ? stackalloc char[byteCount] : new char[byteCount];
        for (int i = 0; i < byteCount; i++)
        {
            chars[i] = s_byteToChar[bytes[i]];
        }

        return new string(chars);
    }

    /// <summary>Maps the UTF-8 bytes of <paramref name="text"/> to byte-level characters in <paramref name="destination"/>; returns the count.</summary>
    public static int Encode(ReadOnlySpan<char> text, Span<char> destination)
    {
        int byteCount = Encoding.UTF8.GetByteCount(text);
        Span<byte> bytes = byteCount <= 1024 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(text, bytes);
        for (int i = 0; i < byteCount; i++)
        {
            destination[i] = s_byteToChar[bytes[i]];
        }

        return byteCount;
    }

    /// <summary>
    /// Decodes concatenated byte-level tokens as tokenizers' ByteLevel decoder does: each token whose characters are
    /// all byte-level characters contributes those bytes, any other token its own UTF-8 bytes; invalid UTF-8 becomes U+FFFD.
    /// </summary>
    public static string Decode(IEnumerable<string> tokens)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        foreach (string token in tokens)
        {
            Span<byte> span = buffer.GetSpan(token.Length);
            int n = 0;
            foreach (char c in token)
            {
                int b = c < s_charToByteTable.Length ? s_charToByteTable[c] : -1;
                if (b < 0)
                {
                    n = -1;
                    break;
                }

                span[n++] = (byte)b;
            }

            if (n >= 0)
            {
                buffer.Advance(n);
            }
            else
            {
                buffer.Write(Encoding.UTF8.GetBytes(token));
            }
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static char[] BuildTable()
    {
        var table = new char[256];
        var direct = new bool[256];
        for (int b = '!'; b <= '~'; b++)
        {
            direct[b] = true;
        }

        for (int b = 0xA1; b <= 0xAC; b++)
        {
            direct[b] = true;
        }

        for (int b = 0xAE; b <= 0xFF; b++)
        {
            direct[b] = true;
        }

        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            table[b] = direct[b] ? (char)b : (char)(256 + n++);
        }

        return table;
    }

    private static short[] BuildReverseTable()
    {
        var table = new short[324];
        Array.Fill(table, (short)-1);
        for (int b = 0; b < 256; b++)
        {
            table[s_byteToChar[b]] = (short)b;
        }

        return table;
    }

    private static Dictionary<char, byte> BuildReverse()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++)
        {
            map[s_byteToChar[b]] = (byte)b;
        }

        return map;
    }
}
