using System.Text.RegularExpressions;

namespace DistriGen.Models.Checkpoints;

/// <summary>
/// Where each diffusers UNet parameter is in the original (LDM/SGM) layout, as diffusers 0.24's
/// convert_ldm_unet_checkpoint maps it, worked out from the model's own parameter names: input blocks
/// are numbered across the down blocks (each layer, then the downsampler), output blocks across the up
/// blocks; an upsampler sits after the block's last layer at sub-index 2 (1 without attention); resnets
/// use LDM's in_layers/out_layers/emb_layers names; attention internals keep their names.
/// </summary>
public static partial class LdmUnetNames
{
    public const string Prefix = "model.diffusion_model.";

    private static readonly (string Diffusers, string Ldm)[] Fixed =
    [
        ("time_embedding.linear_1.", "time_embed.0."),
        ("time_embedding.linear_2.", "time_embed.2."),
        ("add_embedding.linear_1.", "label_emb.0.0."),
        ("add_embedding.linear_2.", "label_emb.0.2."),
        ("class_embedding.linear_1.", "label_emb.0.0."),
        ("class_embedding.linear_2.", "label_emb.0.2."),
        ("conv_in.", "input_blocks.0.0."),
        ("conv_norm_out.", "out.0."),
        ("conv_out.", "out.2."),
        ("mid_block.resnets.0.", "middle_block.0."),
        ("mid_block.attentions.0.", "middle_block.1."),
        ("mid_block.resnets.1.", "middle_block.2."),
    ];

    private static readonly (string Diffusers, string Ldm)[] Resnet =
    [
        ("norm1.", "in_layers.0."),
        ("conv1.", "in_layers.2."),
        ("norm2.", "out_layers.0."),
        ("conv2.", "out_layers.3."),
        ("time_emb_proj.", "emb_layers.1."),
        ("conv_shortcut.", "skip_connection."),
    ];

    /// <summary>The file key (with <see cref="Prefix"/>) of every parameter name of a UNet.</summary>
    public static Dictionary<string, KeyMapping> For(IEnumerable<string> parameterNames)
    {
        var names = parameterNames.ToList();
        var prefixes = Fixed.ToList();
        int down = Count(names, DownBlock()), up = Count(names, UpBlock());
        int input = 1;
        for (int b = 0; b < down; b++)
        {
            for (int j = 0; j < Count(names, new Regex($@"^down_blocks\.{b}\.(?:resnets|attentions)\.(\d+)\.")); j++, input++)
            {
                prefixes.Add(($"down_blocks.{b}.resnets.{j}.", $"input_blocks.{input}.0."));
                prefixes.Add(($"down_blocks.{b}.attentions.{j}.", $"input_blocks.{input}.1."));
            }
            if (names.Any(n => n.StartsWith($"down_blocks.{b}.downsamplers.", StringComparison.Ordinal)))
                prefixes.Add(($"down_blocks.{b}.downsamplers.0.conv.", $"input_blocks.{input++}.0.op."));
        }
        int output = 0;
        for (int b = 0; b < up; b++)
        {
            bool attention = names.Any(n => n.StartsWith($"up_blocks.{b}.attentions.", StringComparison.Ordinal));
            for (int j = 0; j < Count(names, new Regex($@"^up_blocks\.{b}\.(?:resnets|attentions)\.(\d+)\.")); j++, output++)
            {
                prefixes.Add(($"up_blocks.{b}.resnets.{j}.", $"output_blocks.{output}.0."));
                prefixes.Add(($"up_blocks.{b}.attentions.{j}.", $"output_blocks.{output}.1."));
            }
            prefixes.Add(($"up_blocks.{b}.upsamplers.0.conv.", $"output_blocks.{output - 1}.{(attention ? 2 : 1)}.conv."));
        }
        var map = new Dictionary<string, KeyMapping>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var (from, to) = prefixes.Where(p => name.StartsWith(p.Diffusers, StringComparison.Ordinal)).MaxBy(p => p.Diffusers.Length);
            if (from is null) throw new InvalidOperationException($"No original-layout name is known for the UNet parameter '{name}'.");
            var rest = name[from.Length..];
            if (from.Contains(".resnets.", StringComparison.Ordinal) || from.StartsWith("mid_block.resnets", StringComparison.Ordinal))
                foreach (var (d, l) in Resnet)
                    if (rest.StartsWith(d, StringComparison.Ordinal))
                    {
                        rest = l + rest[d.Length..];
                        break;
                    }
            map[name] = new KeyMapping(Prefix + to + rest);
        }
        return map;
    }

    /// <summary>How many distinct numbers the first group of <paramref name="pattern"/> takes (highest + 1).</summary>
    private static int Count(IEnumerable<string> names, Regex pattern) =>
        names.Select(n => pattern.Match(n)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value) + 1).DefaultIfEmpty(0).Max();

    [GeneratedRegex(@"^down_blocks\.(\d+)\.")]
    private static partial Regex DownBlock();

    [GeneratedRegex(@"^up_blocks\.(\d+)\.")]
    private static partial Regex UpBlock();
}
