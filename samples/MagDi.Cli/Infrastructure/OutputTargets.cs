using Spectre.Console;

namespace MagDi.Cli.Infrastructure;

/// <summary>Checks output paths before any work is done, so a bad <c>--out</c> fails at once, not after the work.</summary>
internal static class OutputTargets
{
    /// <summary>An output file: not an existing folder, and its folder exists.</summary>
    public static ValidationResult File(string option, string path)
    {
        if (Directory.Exists(path))
        {
            return ValidationResult.Error($"{option}: '{Terminal.Clean(path)}' is a folder; give the path of a file to write.");
        }

        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        return folder is not null && !Directory.Exists(folder)
            ? ValidationResult.Error($"{option}: the folder '{Terminal.Clean(folder)}' does not exist.")
            : ValidationResult.Success();
    }

    /// <summary>An output folder: not an existing file (it is created when missing).</summary>
    public static ValidationResult Folder(string option, string path) =>
        System.IO.File.Exists(path)
            ? ValidationResult.Error($"{option}: '{Terminal.Clean(path)}' is a file; give a folder.")
            : ValidationResult.Success();
}
