using System.IO.Compression;
using System.Xml.Linq;
using MagDi.Runtime;

namespace MagDi.Packaging.Tests;

/// <summary>
/// Packs MagDi.Core, MagDi.Graphs, MagDi.Losses and MagDi.Training, then builds and runs a new console app
/// that references them from a local folder feed, as a user would.
/// </summary>
public sealed class PackageConsumerTests : IDisposable
{
    private static readonly string[] Packages = ["MagDi.Core", "MagDi.Graphs", "MagDi.Losses", "MagDi.Training"];
    private readonly string _work = Path.Combine(Path.GetTempPath(), $"magdi-pack-{Guid.NewGuid():N}");

    public PackageConsumerTests() => Directory.CreateDirectory(_work);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public void PackedPackages_DependOnManagedTorchSharpOnly_AndAFreshConsoleAppRunsAForwardPass()
    {
        string root = MagDi.Testing.Machine.RepositoryRoot();
        string feed = Path.Combine(_work, "feed");
        // A version no earlier run used, so the global package cache never serves a stale copy.
        string version = $"0.0.0-ci.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

        foreach (string package in Packages)
        {
            var (code, output) = ProcessRunner.Run(
                "dotnet",
                $"pack src/{package}/{package}.csproj -c Release -o \"{feed}\" -p:PackageVersion={version} --nologo",
                root,
                TimeSpan.FromMinutes(4));
            Assert.True(code == 0, $"dotnet pack {package} failed:\n{output}");
        }

        foreach (string package in Packages)
        {
            string nupkg = Path.Combine(feed, $"{package}.{version}.nupkg");
            Assert.True(File.Exists(nupkg), $"{nupkg} was not produced.");
            Assert.True(File.Exists(Path.Combine(feed, $"{package}.{version}.snupkg")), $"{package} has no symbol package.");
            AssertPackageShape(nupkg, package);
        }

        string app = Path.Combine(_work, "consumer");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="MagDi.Training" Version="{version}" />
                <PackageReference Include="TorchSharp-cpu" Version="0.107.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using MagDi.Runtime;
            using TorchSharp;

            TorchRuntime.EnsureInitialized();
            var layer = torch.nn.Linear(4, 2);
            var x = torch.ones(3, 4);
            var y = layer.forward(x);
            y.sum().backward();
            Console.WriteLine($"shape={string.Join('x', y.shape)} grad={(layer.weight!.grad is null ? "none" : "ok")}");
            """);

        var (buildCode, buildOutput) = ProcessRunner.Run("dotnet", "build -c Release --nologo", app, TimeSpan.FromMinutes(6));
        Assert.True(buildCode == 0, $"consumer build failed:\n{buildOutput}");

        string outputDir = Path.Combine(app, "bin", "Release", "net10.0");
        if (OperatingSystem.IsLinux() && !LibTorchSharpPatcher.SystemLibStdCxxDefines(LibTorchSharpPatcher.UnusedGlibcxxVersion))
        {
            // The buildTransitive target, not a manual step, must have fixed the consumer's copy at build time.
            string copy = Directory.GetFiles(outputDir, "libLibTorchSharp.so", SearchOption.AllDirectories).First();
            Assert.Equal(ElfPatchOutcome.AlreadyWeak, LibTorchSharpPatcher.MakeVersionNeedWeak(File.ReadAllBytes(copy), LibTorchSharpPatcher.UnusedGlibcxxVersion));
        }

        string dll = Path.Combine(outputDir, "Consumer.dll");
        var (runCode, runOutput) = ProcessRunner.Run("dotnet", $"\"{dll}\"", app, TimeSpan.FromMinutes(2));
        Assert.True(runCode == 0, $"consumer run failed:\n{runOutput}");
        Assert.Contains("shape=3x2 grad=ok", runOutput);
    }

    private static void AssertPackageShape(string nupkg, string package)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        var nuspecEntry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = nuspecEntry.Open();
        var nuspec = XDocument.Load(stream);
        var ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal("MIT", metadata.Element(ns + "license")?.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")?.Value));
        // No project or repository URL is published until the project has a real public home (issue 16).
        Assert.Null(metadata.Element(ns + "projectUrl"));
        Assert.Null(metadata.Element(ns + "repository")?.Attribute("url"));
        Assert.Contains(zip.Entries, e => e.FullName == "README.md");

        var dependencies = metadata.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")!).ToList();
        Assert.DoesNotContain(dependencies, d => d.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(dependencies, d => d.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase));
        if (package == "MagDi.Core")
        {
            Assert.Contains("TorchSharp", dependencies);
            Assert.Contains(zip.Entries, e => e.FullName == "buildTransitive/MagDi.Core.targets");
            Assert.Contains(zip.Entries, e => e.FullName == "buildTransitive/LibTorchSharpPatcher.cs");
        }
    }
}
