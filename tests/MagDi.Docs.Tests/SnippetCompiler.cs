using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace MagDi.Docs.Tests;

/// <summary>The outcome of compiling one unit: every problem as "file:line: message", and the free names it used.</summary>
internal sealed record SnippetCompilation(IReadOnlyList<string> Errors, IReadOnlyList<string> FreeNames);

/// <summary>
/// Compiles documentation snippets the way a reader pastes them into a console app's Program.cs: top-level statements
/// after the snippet's own using directives, with the SDK's implicit global usings (ImplicitUsings) and nothing else.
/// Names a fragment leaves free (a <c>model</c> or <c>cancellationToken</c> the reader already has) are looked up in
/// <see cref="SnippetVariables.Types"/> and declared as static fields of that type, brought in with a
/// <c>global using static</c>; a free name missing from that table is an error. <c>#line</c> directives map every
/// diagnostic to the Markdown file and line.
/// </summary>
internal sealed class SnippetCompiler
{
    private const string VariablesClass = "DocsSnippetVariables";

    private static readonly string[] ImplicitUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading",
        "System.Threading.Tasks",
    ];

    // Assemblies of the test host that a documentation reader does not have: the test framework and the compiler.
    private static readonly string[] ExcludedAssemblyPrefixes =
    [
        "MagDi.Docs.Tests", "Microsoft.CodeAnalysis", "xunit", "testhost", "Microsoft.TestPlatform", "Microsoft.VisualStudio",
        "NuGet.",
    ];

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private readonly IReadOnlyList<MetadataReference> _references;
    private readonly IReadOnlyDictionary<string, string> _variableTypes;

    public SnippetCompiler(IReadOnlyList<MetadataReference> references, IReadOnlyDictionary<string, string> variableTypes)
    {
        _references = references;
        _variableTypes = variableTypes;
    }

    /// <summary>The trusted platform assemblies of this process plus the managed assemblies next to the test.</summary>
    public static IReadOnlyList<MetadataReference> LoadReferences()
    {
        var paths = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var trusted = (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var path in trusted.Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll")))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (ExcludedAssemblyPrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase)) || paths.ContainsKey(name) || !IsManaged(path))
            {
                continue;
            }

            paths[name] = path;
        }

        return paths.Values.Order(StringComparer.Ordinal).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
    }

    public SnippetCompilation Compile(SnippetUnit unit)
    {
        var program = CSharpSyntaxTree.ParseText(BuildProgram(unit), ParseOptions, path: unit.Id);

        // Pass 1: which names does the fragment leave free?
        var firstPass = CreateCompilation(program, new Dictionary<string, string>()).GetDiagnostics();
        var freeNames = firstPass
            .Where(d => d.Id == "CS0103")
            .Select(d => (Name: NameAt(d), Location: Format(d.Location)))
            .Where(n => n.Name.Length > 0)
            .ToList();
        var errors = new List<string>();
        var declared = new Dictionary<string, string>(StringComparer.Ordinal);
        var unknown = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, location) in freeNames)
        {
            if (_variableTypes.TryGetValue(name, out var type))
            {
                declared[name] = type;
            }
            else if (unknown.Add(name))
            {
                errors.Add($"{location}: the snippet uses '{name}', which it does not declare and which is not in SnippetVariables.Types "
                    + "(a missing using directive, a renamed type, or a variable the reader has that the table should name?)");
            }
        }

        // Pass 2: the free names declared; every remaining error is the snippet's (or the API's) fault.
        var diagnostics = CreateCompilation(program, declared).GetDiagnostics();
        // Warnings count too (nullable ones included): a reader's project may treat them as errors, as this one does.
        foreach (var diagnostic in diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning))
        {
            if (diagnostic.Id == "CS0103" && !declared.ContainsKey(NameAt(diagnostic)))
            {
                continue; // reported above with the table hint
            }

            var severity = diagnostic.Severity == DiagnosticSeverity.Error ? "error" : "warning";
            errors.Add($"{Format(diagnostic.Location)}: {severity} {diagnostic.Id}: {diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}");
        }

        return new SnippetCompilation(errors.Distinct().ToList(), declared.Keys.Order(StringComparer.Ordinal).ToList());
    }

    /// <summary>The snippet as a Program.cs: all using directives first, then each block's statements under a #line.</summary>
    internal static string BuildProgram(SnippetUnit unit)
    {
        var usings = new StringBuilder();
        var seenUsings = new HashSet<string>(StringComparer.Ordinal);
        var body = new StringBuilder();
        foreach (var block in unit.Blocks)
        {
            var lines = block.Lines.ToArray();
            var tree = CSharpSyntaxTree.ParseText(string.Join('\n', lines), ParseOptions);
            foreach (var directive in tree.GetCompilationUnitRoot().Usings)
            {
                var span = directive.GetLocation().GetLineSpan();
                var text = directive.ToString();
                if (seenUsings.Add(text))
                {
                    usings.Append("#line ").Append(block.FirstLine + span.StartLinePosition.Line).Append(" \"").Append(block.File).Append("\"\n");
                    usings.Append(text).Append('\n');
                }

                for (var l = span.StartLinePosition.Line; l <= span.EndLinePosition.Line; l++)
                {
                    lines[l] = "";
                }
            }

            body.Append("#line ").Append(block.FirstLine).Append(" \"").Append(block.File).Append("\"\n");
            foreach (var line in lines)
            {
                body.Append(line).Append('\n');
            }
        }

        return usings.Append(body).ToString();
    }

    private CSharpCompilation CreateCompilation(SyntaxTree program, Dictionary<string, string> variables)
    {
        var context = new StringBuilder();
        foreach (var ns in ImplicitUsings)
        {
            context.Append("global using global::").Append(ns).Append(";\n");
        }

        if (variables.Count > 0)
        {
            context.Append("global using static ").Append(VariablesClass).Append(";\n");
            context.Append("internal static class ").Append(VariablesClass).Append("\n{\n");
            foreach (var (name, type) in variables)
            {
                context.Append("    public static ").Append(type).Append(' ').Append(name).Append(" = default!;\n");
            }

            context.Append("}\n");
        }

        var contextTree = CSharpSyntaxTree.ParseText(context.ToString(), ParseOptions, path: "(snippet context)");
        // As an SDK console app compiles it: nullable on, every warning wave, and the SDK's default NoWarn (CS1701 and
        // CS1702: assembly version unification, which the runtime does). A documented call to an [Obsolete] member is
        // an error: it is a documentation bug too.
        var options = new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable, warningLevel: 9999)
            .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic>
            {
                ["CS1701"] = ReportDiagnostic.Suppress,
                ["CS1702"] = ReportDiagnostic.Suppress,
                ["CS0612"] = ReportDiagnostic.Error,
                ["CS0618"] = ReportDiagnostic.Error,
            });
        return CSharpCompilation.Create("DocsSnippet", [program, contextTree], _references, options);
    }

    private static string NameAt(Diagnostic diagnostic)
    {
        var location = diagnostic.Location;
        if (location.SourceTree is null)
        {
            return "";
        }

        var node = location.SourceTree.GetRoot().FindNode(location.SourceSpan, getInnermostNodeForTie: true);
        return node is IdentifierNameSyntax identifier ? identifier.Identifier.ValueText : node.ToString();
    }

    private static string Format(Location location)
    {
        var span = location.GetMappedLineSpan();
        return span.IsValid ? $"{span.Path}:{span.StartLinePosition.Line + 1}" : "(snippet)";
    }

    private static bool IsManaged(string path)
    {
        try
        {
            _ = AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
