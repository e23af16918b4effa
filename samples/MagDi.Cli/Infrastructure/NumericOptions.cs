using System.Globalization;
using System.Numerics;
using System.Reflection;
using Spectre.Console.Cli;

namespace MagDi.Cli.Infrastructure;

/// <summary>
/// The allowed range of a numeric option. Every <c>int</c>, <c>long</c> and <c>double</c> option of a verb is checked
/// against it (or against its type's range when it has none) by <see cref="NumericOptions"/> before the arguments are
/// parsed, so an out-of-range or malformed number is one clear error naming the option, the value and the range.
/// </summary>
/// <param name="minimum">The smallest allowed value.</param>
/// <param name="maximum">The largest allowed value.</param>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class NumberRangeAttribute(double minimum, double maximum) : Attribute
{
    /// <summary>The smallest allowed value.</summary>
    public double Minimum { get; } = minimum;

    /// <summary>The largest allowed value.</summary>
    public double Maximum { get; } = maximum;

    /// <summary>Whether <see cref="Minimum"/> itself is excluded (for example a probability in (0, 1]).</summary>
    public bool MinimumExclusive { get; init; }
}

/// <summary>Checks the numeric options of a verb in the raw arguments (see <see cref="NumberRangeAttribute"/>).</summary>
public static class NumericOptions
{
    /// <summary>
    /// Finds the first numeric option of <paramref name="settingsType"/> in <paramref name="args"/> whose value is not a
    /// number of its type or is outside its range.
    /// </summary>
    /// <param name="settingsType">The verb's settings class.</param>
    /// <param name="args">The arguments after the verb.</param>
    /// <returns>The error message, or null when every numeric value is fine.</returns>
    public static string? Check(Type settingsType, IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(settingsType);
        ArgumentNullException.ThrowIfNull(args);
        var options = Describe(settingsType).ToDictionary(o => o.Name, StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string token = args[i];
            if (!token.StartsWith("--", StringComparison.Ordinal))
            {
                continue;
            }

            string name = token;
            string? value = null;
            int separator = token.IndexOfAny(['=', ':']);
            if (separator > 2)
            {
                name = token[..separator];
                value = token[(separator + 1)..];
            }

            if (!options.TryGetValue(name, out var option))
            {
                continue;
            }

            if (value is null)
            {
                if (i + 1 >= args.Count)
                {
                    continue; // Spectre reports the missing value
                }

                value = args[++i];
            }

            if (option.Problem(value) is { } problem)
            {
                return problem;
            }
        }

        return null;
    }

    /// <summary>Every numeric option of a settings class with its type and range.</summary>
    /// <param name="settingsType">The settings class.</param>
    /// <returns>The options.</returns>
    public static IReadOnlyList<NumericOption> Describe(Type settingsType)
    {
        ArgumentNullException.ThrowIfNull(settingsType);
        var result = new List<NumericOption>();
        foreach (var property in settingsType.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<CommandOptionAttribute>() is not { } option)
            {
                continue;
            }

            Type type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (type != typeof(int) && type != typeof(long) && type != typeof(double))
            {
                continue;
            }

            var range = property.GetCustomAttribute<NumberRangeAttribute>();
            foreach (string longName in option.LongNames)
            {
                result.Add(new NumericOption("--" + longName, type, range));
            }
        }

        return result;
    }
}

/// <summary>One numeric option: its name, type and allowed range.</summary>
/// <param name="Name">The option, e.g. <c>--max-new-tokens</c>.</param>
/// <param name="Type"><c>int</c>, <c>long</c> or <c>double</c>.</param>
/// <param name="Range">The declared range, or null for the type's whole range.</param>
public sealed record NumericOption(string Name, Type Type, NumberRangeAttribute? Range)
{
    /// <summary>The allowed values in words, e.g. <c>a whole number from 1 to 2147483647</c>.</summary>
    public string Expected
    {
        get
        {
            var c = CultureInfo.InvariantCulture;
            if (Type == typeof(double))
            {
                if (Range is null)
                {
                    return "a finite number";
                }

                bool exclusive = Range.MinimumExclusive;
                return Range.Maximum >= double.MaxValue
                    ? string.Create(c, $"a finite number {(exclusive ? "greater than" : "of at least")} {Range.Minimum}")
                    : string.Create(c, $"a number in {(exclusive ? "(" : "[")}{Range.Minimum}, {Range.Maximum}]");
            }

            (long lo, long hi) = TypeRange;
            long rmin = Range is null ? lo : (long)Math.Max(lo, Range.Minimum);
            long rmax = Range is null ? hi : (long)Math.Min(hi, Range.Maximum);
            if (Range?.MinimumExclusive == true)
            {
                rmin++;
            }

            return string.Create(c, $"a whole number from {rmin} to {rmax}");
        }
    }

    private (long Min, long Max) TypeRange => Type == typeof(int) ? (int.MinValue, int.MaxValue) : (long.MinValue, long.MaxValue);

    /// <summary>Why <paramref name="value"/> is not allowed, or null when it is.</summary>
    /// <param name="value">The raw text.</param>
    /// <returns>The message, or null.</returns>
    public string? Problem(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        string shown = Terminal.Clean(value.Length > 40 ? value[..40] + "..." : value);
        string error = $"{Name} must be {Expected} (got '{shown}').";
        if (Type == typeof(double))
        {
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || !double.IsFinite(d))
            {
                return error;
            }

            if (Range is null)
            {
                return null;
            }

            bool low = Range.MinimumExclusive ? d <= Range.Minimum : d < Range.Minimum;
            return low || d > Range.Maximum ? error : null;
        }

        // Whole numbers: parse without a size limit so that 99999999999 is "out of range", not "not a number".
        if (!BigInteger.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out BigInteger n))
        {
            return error;
        }

        (long lo, long hi) = TypeRange;
        if (n < lo || n > hi)
        {
            return error;
        }

        if (Range is null)
        {
            return null;
        }

        double v = (double)n;
        bool below = Range.MinimumExclusive ? v <= Range.Minimum : v < Range.Minimum;
        return below || v > Range.Maximum ? error : null;
    }
}
