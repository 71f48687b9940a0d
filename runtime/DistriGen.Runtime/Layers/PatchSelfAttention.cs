using DistriGen.Tensors;
using DistriGen.Tensors.Nn;

namespace DistriGen.Runtime.Layers;

/// <summary>
/// Self-attention on a band: queries from the own tokens, keys and values from its point — the whole
/// image's (DistriFusion) or the own band's with the nearest rows of its neighbours (PCPP).
/// Cross-attention (keys from the text) is not rewritten.
/// </summary>
internal sealed class PatchSelfAttention(Attention source, KeyValuePoint keysValues) : Attention(source)
{
    public override Tensor Forward(Tensor x, Tensor? encoderStates = null)
    {
        if (encoderStates is not null) return base.Forward(x, encoderStates);
        using var q = ToQ.Forward(x);
        using var k = ToK.Forward(x);
        using var v = ToV.Forward(x);
        var (keys, values) = keysValues.Gather(k, v);
        using (keys)
        using (values)
            return Attend(q, keys, values);
    }
}
