using System.Diagnostics;

namespace DistriGen.Cli.Tests;

/// <summary>
/// The path a user takes: pack DistriGen, then build, test and run samples/CustomModel against the
/// packages (its restore sees DistriGen only in the local folder) and install the distrigen tool.
/// </summary>
public sealed class PackagingTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DistriGen.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("DistriGen.sln not found above the test directory.");
    }

    private static async Task<string> Dotnet(string workingDirectory, IDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        var text = await output + await errors;
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} exited {process.ExitCode}:\n{text}");
        return text;
    }

    [Fact]
    public async Task TheSampleBuildsTestsAndRunsFromThePackedPackages()
    {
        var feed = Path.Combine(Root, "artifacts", "packages");
        await Dotnet(Root, null, "pack", "DistriGen.sln", "-c", Configuration, "-o", feed);
        foreach (var id in new[] { "DistriGen.Tensors", "DistriGen.Runtime", "DistriGen.Models", "DistriGen.Torch", "DistriGen.Testing", "distrigen" })
            Assert.True(File.Exists(Path.Combine(feed, $"{id}.0.1.0.nupkg")), id);

        // A package cache of our own, cleared of DistriGen, so the packages just packed are the ones used.
        var cache = Path.Combine(Path.GetTempPath(), "distrigen-sample-packages");
        if (Directory.Exists(cache))
            foreach (var dir in Directory.GetDirectories(cache, "distrigen*")) Directory.Delete(dir, recursive: true);
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = cache };
        var sample = Path.Combine(Root, "samples", "CustomModel");

        await Dotnet(sample, environment, "test", "tests", "-c", "Release");
        var run = await Dotnet(sample, environment, "run", "--project", "src", "-c", "Release");
        Assert.Contains("2 rank(s), Exact", run);

        var tools = Directory.CreateTempSubdirectory("distrigen-tool-").FullName;
        try
        {
            await Dotnet(Root, environment, "tool", "install", "distrigen", "--tool-path", tools, "--add-source", feed, "--version", "0.1.0");
            var image = Path.Combine(tools, "shapes.png");
            var start = new ProcessStartInfo(Path.Combine(tools, "distrigen"), ["generate", "a cyan square on dark background", "--size", "32x32", "--steps", "2", "--out", image]);
            using var tool = Process.Start(start)!;
            await tool.WaitForExitAsync();
            Assert.Equal(0, tool.ExitCode);
            Assert.True(File.Exists(image));
        }
        finally
        {
            Directory.Delete(tools, recursive: true);
        }
    }
}
