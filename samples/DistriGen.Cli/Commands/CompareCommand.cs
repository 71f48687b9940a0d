using System.CommandLine;
using DistriGen.Models.Pipelines;
using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using Spectre.Console;

namespace DistriGen.Cli.Commands;

/// <summary>
/// distrigen compare: single-device against patch-parallel runs on the same seed — PSNR of the images,
/// error of the final latents, bytes per rank per step — with the pictures side by side.
/// </summary>
internal static class CompareCommand
{
    public static Command Create()
    {
        var options = new ModelOptions();
        var prompt = new Argument<string?>("prompt") { Description = "What to draw.", Arity = ArgumentArity.ZeroOrOne };
        var modes = new Option<string?>("--modes") { Description = "Comma-separated modes to compare, each optionally with a GroupNorm mode (e.g. naive,distrifusion/stale,pcpp,exact). Default: naive,distrifusion,pcpp, or the one --parallelism names." };
        var outDir = new Option<string>("--out-dir") { Description = "Where to write the images.", DefaultValueFactory = _ => "compare" };
        var command = new Command("compare", "Compare patch-parallel modes with single-device inference.") { prompt, modes, outDir };
        options.AddTo(command);
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(outDir)!;
            AtomicFile.CheckWritable(Path.Combine(dir, "compare.csv"), "--out-dir");
            var loaded = options.Load(parse, parse.GetValue(prompt), BuiltInModel.CompareSize);
            var setup = loaded.Setup;
            if (setup.Ranks < 2) setup = setup with { Ranks = 2, ThreadsPerRank = Math.Max(1, Environment.ProcessorCount / 2) };
            var modeNames = parse.GetValue(modes)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                ?? (parse.GetResult(options.Parallelism) is { Implicit: false } ? [parse.GetValue(options.Parallelism)!] : ["naive", "distrifusion", "pcpp"]);
            Directory.CreateDirectory(dir);

            foreach (var warning in loaded.Warnings) CliConsole.Warning(warning);
            AnsiConsole.MarkupLine($"[grey]model[/] {Markup.Escape(loaded.Model.Directory)} · {loaded.Request.Width}×{loaded.Request.Height} · {loaded.Request.Steps} steps · {setup.Ranks} ranks");
            var (reference, _) = ParallelSetup.Single(Environment.ProcessorCount, setup.Device).Generate(loaded.Model, loaded.Request, loaded.Conditioning);
            Png.WriteImage(Path.Combine(dir, "single.png"), reference.Image);
            var images = new List<Tensor> { reference.Image };
            var table = new Table().AddColumns("mode", "PSNR dB", "latent rel. err", "latent max err", "sent/rank/step (layers)", "attention", "+ gather", "UNet s");
            table.AddRow("single device", "∞", "0", "0", "0", "0", "0", $"{reference.UNetTime.TotalSeconds:0.00}");
            var csv = new List<string> { "mode,psnr_db,latent_rel_err,latent_max_err,layer_bytes_per_step,attention_bytes_per_step,gather_bytes_per_step,unet_s" };
            foreach (var name in modeNames)
            {
                var parts = name.Split('/');
                var modeOptions = setup.Options.Clone();
                modeOptions.Mode = ModelOptions.ParseMode(parts[0]);
                if (parts.Length > 1) modeOptions.GroupNormMode = ModelOptions.ParseGnMode(parts[1]);
                var modeSetup = setup with { Options = modeOptions };
                var (result, report) = modeSetup.Generate(loaded.Model, loaded.Request, loaded.Conditioning);
                Png.WriteImage(Path.Combine(dir, $"{name.Replace('/', '-')}.png"), result.Image);
                images.Add(result.Image);
                double psnr = ResultMetrics.Psnr(result.Image, reference.Image);
                double relative = ResultMetrics.RelativeError(result.FinalLatents, reference.FinalLatents);
                double max = ResultMetrics.MaxAbsError(result.FinalLatents, reference.FinalLatents);
                table.AddRow(name, double.IsPositiveInfinity(psnr) ? "∞" : $"{psnr:0.00}", $"{relative:0.0e+0}", $"{max:0.0e+0}",
                    CommunicationReport.Bytes(report!.LayerBytesPerStep), CommunicationReport.Bytes(report.AttentionPerStep), CommunicationReport.Bytes(report.GatherPerStep), $"{result.UNetTime.TotalSeconds:0.00}");
                csv.Add(string.Join(',', name, Invariant(psnr), Invariant(relative), Invariant(max), Invariant(report.LayerBytesPerStep), Invariant(report.AttentionPerStep), Invariant(report.GatherPerStep), Invariant(result.UNetTime.TotalSeconds)));
            }
            AnsiConsole.Write(table);
            AtomicFile.Write(Path.Combine(dir, "compare.csv"), s => s.Write(System.Text.Encoding.UTF8.GetBytes(string.Join("\n", csv) + "\n")));
            var sideBySide = Path.Combine(dir, "side-by-side.png");
            SideBySideImage.Write(sideBySide, images);
            AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(sideBySide)}[/] (left to right: single device, {string.Join(", ", modeNames)}) and [green]{Markup.Escape(Path.Combine(dir, "compare.csv"))}[/]");
            return 0;
        });
        return command;
    }

    private static string Invariant(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
