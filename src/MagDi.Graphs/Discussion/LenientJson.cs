using System.Globalization;
using System.Text;

namespace MagDi.Graphs.Discussion;

/// <summary>
/// A forgiving reader for the JSON objects language models write: single- or double-quoted strings,
/// bare keys, raw newlines inside strings, trailing commas, and an apostrophe inside a single-quoted
/// string when it is clearly not the closing quote. Values come back as <see cref="string"/> (strings),
/// <see cref="LenientJson.Number"/> (numbers, kept as written), <see cref="bool"/>, <see langword="null"/>,
/// nested dictionaries and lists.
/// </summary>
internal static class LenientJson
{
    /// <summary>A number as written in the text.</summary>
    internal sealed record Number(string Text);

    /// <summary>Finds the first object in <paramref name="text"/> (scanning every '{') that satisfies <paramref name="accept"/>.</summary>
    public static Dictionary<string, object?>? FindObject(string text, Func<Dictionary<string, object?>, bool> accept)
    {
        for (int start = text.IndexOf('{', StringComparison.Ordinal); start >= 0; start = text.IndexOf('{', start + 1))
        {
            var reader = new Reader(text, start);
            if (reader.TryReadObject(out var obj) && accept(obj))
            {
                return obj;
            }
        }

        return null;
    }

    private ref struct Reader(string text, int position)
    {
        private readonly string _s = text;
        private int _i = position;

        public bool TryReadObject(out Dictionary<string, object?> obj)
        {
            obj = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
            if (!Eat('{'))
            {
                return false;
            }

            while (true)
            {
                SkipWs();
                if (Eat('}'))
                {
                    return true;
                }

                if (!TryReadKey(out string key))
                {
                    return false;
                }

                SkipWs();
                if (!Eat(':') && !Eat('='))
                {
                    return false;
                }

                SkipWs();
                if (!TryReadValue(out object? value))
                {
                    return false;
                }

                obj[key.Trim()] = value;
                SkipWs();
                if (Eat(','))
                {
                    continue;
                }

                SkipWs();
                if (Eat('}'))
                {
                    return true;
                }

                return false;
            }
        }

        private bool TryReadArray(out List<object?> list)
        {
            list = [];
            if (!Eat('['))
            {
                return false;
            }

            while (true)
            {
                SkipWs();
                if (Eat(']'))
                {
                    return true;
                }

                if (!TryReadValue(out object? v))
                {
                    return false;
                }

                list.Add(v);
                SkipWs();
                if (Eat(','))
                {
                    continue;
                }

                SkipWs();
                return Eat(']');
            }
        }

        private bool TryReadKey(out string key)
        {
            if (Peek is '"' or '\'')
            {
                return TryReadString(out key);
            }

            int start = _i;
            while (_i < _s.Length && (char.IsLetterOrDigit(_s[_i]) || _s[_i] is '_' or '-' or ' '))
            {
                _i++;
            }

            key = _s[start.._i];
            return key.Trim().Length > 0;
        }

        private bool TryReadValue(out object? value)
        {
            value = null;
            char c = Peek;
            switch (c)
            {
                case '"' or '\'':
                    bool ok = TryReadString(out string s);
                    value = s;
                    return ok;
                case '{':
                    bool okObj = TryReadObject(out var o);
                    value = o;
                    return okObj;
                case '[':
                    bool okArr = TryReadArray(out var a);
                    value = a;
                    return okArr;
            }

            int start = _i;
            while (_i < _s.Length && _s[_i] is not (',' or '}' or ']' or '\n' or '\r'))
            {
                _i++;
            }

            string raw = _s[start.._i].Trim();
            if (raw.Length == 0)
            {
                return false;
            }

            if (raw is "true" or "True" or "TRUE")
            {
                value = true;
            }
            else if (raw is "false" or "False" or "FALSE")
            {
                value = false;
            }
            else if (raw is "null" or "None" or "NULL")
            {
                value = null;
            }
            else if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                value = new Number(raw);
            }
            else
            {
                // A bare word (for example answer: yes); keep it as text.
                value = raw;
            }

            return true;
        }

        private bool TryReadString(out string value)
        {
            char quote = _s[_i++];
            var sb = new StringBuilder();
            while (_i < _s.Length)
            {
                char c = _s[_i++];
                if (c == '\\' && _i < _s.Length)
                {
                    char e = _s[_i++];
                    switch (e)
                    {
                        case 'n': sb.Append('\n'); break;
                        case 't': sb.Append('\t'); break;
                        case 'r': sb.Append('\r'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'u' when _i + 4 <= _s.Length
                            && int.TryParse(_s.AsSpan(_i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code):
                            sb.Append((char)code);
                            _i += 4;
                            break;
                        default: sb.Append(e); break;
                    }
                }
                else if (c == quote)
                {
                    if (quote == '\'' && !LooksLikeClosingQuote())
                    {
                        sb.Append(c); // an apostrophe inside a single-quoted string: don't, it's
                        continue;
                    }

                    value = sb.ToString();
                    return true;
                }
                else
                {
                    sb.Append(c);
                }
            }

            value = sb.ToString();
            return false;
        }

        private readonly bool LooksLikeClosingQuote()
        {
            int j = _i;
            while (j < _s.Length && _s[j] is ' ' or '\t')
            {
                j++;
            }

            return j >= _s.Length || _s[j] is ',' or '}' or ']' or ':' or '\n' or '\r';
        }

        private readonly char Peek => _i < _s.Length ? _s[_i] : '\0';

        private bool Eat(char c)
        {
            if (_i < _s.Length && _s[_i] == c)
            {
                _i++;
                return true;
            }

            return false;
        }

        private void SkipWs()
        {
            while (_i < _s.Length && char.IsWhiteSpace(_s[_i]))
            {
                _i++;
            }
        }
    }
}
