using System.Collections;
using DistriGen.Tensors.Nn;

namespace DistriGen.Runtime;

/// <summary>The band alignment generated code computes from a module's members.</summary>
public static class PatchAlignment
{
    /// <summary>
    /// The product over <paramref name="members"/> (convolutions, [PatchParallel] children, and lists,
    /// arrays or dictionaries of them; null counts 1) of a convolution's stride and a child's
    /// <see cref="IPatchParallel.BandAlignment"/>. Strided convolutions applied one after another divide
    /// the rows by the product; applied side by side, the product is a multiple of what is needed.
    /// </summary>
    public static int Of(params object?[] members)
    {
        long product = 1;
        foreach (var member in members) product *= Single(member);
        return product <= int.MaxValue ? (int)product : throw new InvalidOperationException($"A band alignment of {product} rows is too large.");
    }

    private static long Single(object? member) => member switch
    {
        null => 1,
        Conv2d conv => Math.Max(1, conv.Stride),
        IPatchParallel child => child.BandAlignment,
        IDictionary map => Product(map.Values),
        IEnumerable items => Product(items),
        Module => 1,
        _ => 1,
    };

    private static long Product(IEnumerable items)
    {
        long product = 1;
        foreach (var item in items) product *= Single(item);
        return product;
    }
}
