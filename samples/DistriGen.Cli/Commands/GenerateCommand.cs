using System.CommandLine;
using DistriGen.Models.Pipelines;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
using DistriGen.Tensors.IO;
using Spectre.Console;

namespace DistriGen.Cli.Commands;

/// <summary>distrigen generate: one image from a prompt (or embeddings), on one or several ranks.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var options = new ModelOptions();
        var prompt = new Argument<string?>("prompt") { Description = "What to draw (the built-in model knows colours, shapes and backgrounds).", Arity = ArgumentArity.ZeroOrOne };
        var output = new Option<string>("--out") { Description = "Where to write the PNG.", DefaultValueFactory = _ => "image.png" };
        var saveLatents = new Option<string?>("--save-latents") { Description = "Write final_latents and image to a safetensors file." };
        var scale = new Option<int?>("--scale") { Description = "Write each pixel as an N×N block (default: enough to make small images at least 256 pixels wide or high)." };
        var command = new Command("generate", "Generate an image.") { prompt, output, saveLatents, scale };
        options.AddTo(command);
        command.SetAction(parse =>
        {
            var imagePath = parse.GetValue(output)!;
            var latentsPath = parse.GetValue(saveLatents);
            AtomicFile.CheckWritable(imagePath, "--out");
            if (latentsPath is not null) AtomicFile.CheckWritable(latentsPath, "--save-latents");
            var loaded = options.Load(parse, parse.GetValue(prompt));
            bool isRoot = Runtime.Communication.MpiWorld.Current?.Rank is null or 0;
            if (isRoot)
            {
                foreach (var warning in loaded.Warnings) CliConsole.Warning(warning);
                AnsiConsole.MarkupLine($"[grey]model[/] {Markup.Escape(loaded.Model.Directory)} · {loaded.Request.Width}×{loaded.Request.Height} · " +
                    $"{loaded.Request.Steps} {loaded.Model.SchedulerConfig.Kind} steps · guidance {loaded.Request.GuidanceScale} · " +
                    $"{Markup.Escape(loaded.Setup.Describe())} · {Markup.Escape(loaded.Setup.ComputeName)}");
            }
            var (result, report) = Run(loaded, isRoot);
            if (!isRoot) return 0;
            int pixelScale = parse.GetValue(scale) ?? ViewingScale(loaded.Request.Width, loaded.Request.Height);
            // Both files are replaced together or not at all.
            var files = new List<(string, Action<Stream>)> { (imagePath, s => Png.WriteImage(s, result.Image, pixelScale)) };
            if (latentsPath is not null)
                files.Add((latentsPath, s => SafeTensorsWriter.Write(s, [new("final_latents", result.FinalLatents), new("image", result.Image)])));
            AtomicFile.WriteAll(files);
            var scaled = pixelScale > 1 ? $" ({loaded.Request.Width * pixelScale}×{loaded.Request.Height * pixelScale}, each pixel {pixelScale}×{pixelScale})" : "";
            AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(imagePath)}[/]{scaled} · UNet {result.UNetTime.TotalSeconds:0.00} s · " +
                $"{(loaded.Model.Vae is null ? "no VAE (pixel space)" : $"VAE {result.VaeTime.TotalSeconds:0.00} s")} · total {result.Total.TotalSeconds:0.00} s");
            if (report is not null)
                AnsiConsole.MarkupLine($"[grey]sent per rank per step:[/] {CommunicationReport.Bytes(report.LayerBytesPerStep)} by layers " +
                    $"(halo {CommunicationReport.Bytes(report.HaloPerStep)}, attention {CommunicationReport.Bytes(report.AttentionPerStep)}, " +
                    $"GroupNorm {CommunicationReport.Bytes(report.GroupNormPerStep)}) + {CommunicationReport.Bytes(report.GatherPerStep)} gathering bands");
            result.Dispose();
            return 0;
        });
        return command;
    }

    /// <summary>The smallest whole enlargement that makes the longer side at least 256 pixels (1 for larger images).</summary>
    internal static int ViewingScale(int width, int height) => Math.Max(1, (256 + Math.Max(width, height) - 1) / Math.Max(width, height));

    /// <summary>Runs with a progress bar on rank 0 (plain output when the console is not interactive).</summary>
    internal static (GenerationResult, CommunicationReport?) Run(ModelOptions.Loaded loaded, bool showProgress)
    {
        if (!showProgress || !AnsiConsole.Profile.Capabilities.Interactive)
            return loaded.Setup.Generate(loaded.Model, loaded.Request, loaded.Conditioning, null);
        (GenerationResult, CommunicationReport?) outcome = default;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("denoising", maxValue: loaded.Request.Steps);
                outcome = loaded.Setup.Generate(loaded.Model, loaded.Request, loaded.Conditioning, new SynchronousProgress(task));
            });
        return outcome;
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to a thread pool and lag behind).</summary>
    private sealed class SynchronousProgress(ProgressTask task) : IProgress<StepProgress>
    {
        public void Report(StepProgress value)
        {
            task.MaxValue = value.Total;
            task.Value = value.Step;
        }
    }
}
