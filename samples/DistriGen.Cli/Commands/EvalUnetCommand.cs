using System.CommandLine;
using DistriGen.Models.Pipelines;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Ops;

namespace DistriGen.Cli.Commands;

/// <summary>distrigen eval-unet: one UNet call on inputs in the fixtures' layout, written as unet_out.</summary>
internal static class EvalUnetCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A diffusers model folder or a single-file checkpoint.", Required = true };
        var config = ModelOptions.ConfigOption();
        var lora = LoraOptions.Create();
        var inputs = new Option<string>("--inputs") { Description = "safetensors with sample, timestep, encoder_hidden_states (and text_embeds, time_ids for SDXL).", Required = true };
        var output = new Option<string>("--out") { Description = "Where to write unet_out.", Required = true };
        var device = ModelOptions.DeviceOption();
        var precision = ModelOptions.PrecisionOption();
        var command = new Command("eval-unet", "Run the UNet once on given inputs.") { model, inputs, output, device, precision, config, lora };
        command.SetAction(parse =>
        {
            AtomicFile.CheckWritable(parse.GetValue(output)!, "--out");
            var on = ParallelSetup.Single(1, ModelOptions.ParseDevice(parse, device, precision)).FirstDevice;
            var loaded = DiffusionModel.Load(parse.GetValue(model)!, textEncoder: false, device: on, configDirectory: parse.GetValue(config));
            LoraOptions.Apply(loaded, parse.GetValue(lora), quiet: true);
            var path = parse.GetValue(inputs)!;
            using var conditioning = Conditioning.Load(path).To(on);
            using var file = SafeTensorsFile.Open(path);
            foreach (var key in new[] { "sample", "timestep" })
                if (!file.Contains(key)) throw new InvalidDataException($"{path}: no '{key}' tensor (it has: {string.Join(", ", file.Keys)}).");
            using var sample = Ops.To(file.Read("sample"), on);
            using var timestep = file.Read("timestep");
            using var result = loaded.Unet.Forward(sample, timestep.ToArray()[0], conditioning.EncoderHiddenStates,
                conditioning.TextEmbeds, conditioning.TimeIds);
            SafeTensorsWriter.Write(parse.GetValue(output)!, new Dictionary<string, Tensor> { ["unet_out"] = result });
            Console.WriteLine($"wrote unet_out {Tensor.Format(result.Shape)} to {parse.GetValue(output)} ({on.Name})");
            return 0;
        });
        return command;
    }
}
