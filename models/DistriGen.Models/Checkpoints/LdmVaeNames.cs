using System.Text.RegularExpressions;

namespace DistriGen.Models.Checkpoints;

/// <summary>
/// Where each parameter of the VAE's decoder is in the original layout (convert_ldm_vae_checkpoint):
/// decoder levels numbered in reverse (up_blocks.i ↔ up.{n−1−i}), block/upsample names, mid block as
/// block_1/attn_1/block_2 with the attention's q/k/v/proj_out stored as 1×1 convolutions.
/// </summary>
public static partial class LdmVaeNames
{
    public const string Prefix = "first_stage_model.";

    private static readonly (string Diffusers, string Ldm)[] Attention =
    [
        ("group_norm.", "norm."),
        ("to_q.", "q."),
        ("to_k.", "k."),
        ("to_v.", "v."),
        ("to_out.0.", "proj_out."),
    ];

    /// <summary>
    /// The file key (with <see cref="Prefix"/>) of every parameter name of the decoder side of a VAE.
    /// </summary>
    public static Dictionary<string, KeyMapping> For(IEnumerable<string> parameterNames)
    {
        var names = parameterNames.ToList();
        int levels = names.Select(n => UpBlock().Match(n)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value) + 1).DefaultIfEmpty(0).Max();
        var map = new Dictionary<string, KeyMapping>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            string ldm = name.Replace("conv_shortcut.", "nin_shortcut.", StringComparison.Ordinal)
                .Replace("decoder.conv_norm_out.", "decoder.norm_out.", StringComparison.Ordinal)
                .Replace("mid_block.resnets.0.", "mid.block_1.", StringComparison.Ordinal)
                .Replace("mid_block.resnets.1.", "mid.block_2.", StringComparison.Ordinal);
            var stored = StoredAs.Same;
            if (ldm.Contains("mid_block.attentions.0.", StringComparison.Ordinal))
            {
                ldm = ldm.Replace("mid_block.attentions.0.", "mid.attn_1.", StringComparison.Ordinal);
                foreach (var (d, l) in Attention)
                    if (ldm.Contains("mid.attn_1." + d, StringComparison.Ordinal))
                    {
                        ldm = ldm.Replace("mid.attn_1." + d, "mid.attn_1." + l, StringComparison.Ordinal);
                        stored = d == "group_norm." || !ldm.EndsWith(".weight", StringComparison.Ordinal) ? StoredAs.Same : StoredAs.Conv1x1;
                        break;
                    }
            }
            ldm = UpBlock().Replace(ldm, m => $"decoder.up.{levels - 1 - int.Parse(m.Groups[1].Value)}.");
            ldm = ldm.Replace(".resnets.", ".block.", StringComparison.Ordinal).Replace(".upsamplers.0.", ".upsample.", StringComparison.Ordinal);
            map[name] = new KeyMapping(Prefix + ldm, stored);
        }
        return map;
    }

    [GeneratedRegex(@"^decoder\.up_blocks\.(\d+)\.")]
    private static partial Regex UpBlock();
}
