using System.Runtime.Loader;
using System.Text.RegularExpressions;
using DistriGen.Testing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace DistriGen.Generators.Tests;

/// <summary>
/// The README's minimal program ("Use it in your project") builds with the generator and runs as it says.
/// </summary>
public sealed class ReadmeProgramTests
{
    [Fact]
    public void TheMinimalProgramBuildsAndTwoRanksEqualOneDevice()
    {
        var readme = File.ReadAllText(Path.Combine(Root(), "README.md"));
        string Block(string file) => Regex.Match(readme, "```csharp\\n// " + Regex.Escape(file) + "\\n(.*?)```", RegexOptions.Singleline).Groups[1].Value;
        var compilation = GeneratorHarness.CreateCompilation([Block("Denoiser.cs"), Block("Program.cs")], [])
            .WithOptions(new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        var output = GeneratorHarness.Run(compilation);
        Assert.Empty(output.GeneratorDiagnostics);
        Assert.Empty(output.CompilationDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
        using var stream = new MemoryStream();
        Assert.True(output.OutputCompilation.Emit(stream).Success);
        stream.Position = 0;
        var program = new AssemblyLoadContext(null, isCollectible: true).LoadFromStream(stream);
        var console = new StringWriter();
        var previous = Console.Out;
        Console.SetOut(console);
        try
        {
            program.EntryPoint!.Invoke(null, [Array.Empty<string>()]);
        }
        finally
        {
            Console.SetOut(previous);
        }
        var match = Regex.Match(console.ToString(), @"2 ranks, Exact: max \|difference\| (\S+) against one device");
        Assert.True(match.Success, console.ToString());
        Assert.InRange(double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 0, 1e-5);
    }

    private static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DistriGen.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("DistriGen.sln not found above the test directory.");
    }
}
