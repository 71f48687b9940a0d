using System.Collections;

namespace DistriGen.Tensors.Nn;

/// <summary>An ordered list of submodules named "0", "1", … as torch's ModuleList.</summary>
public sealed class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly T[] _items;

    public ModuleList(IEnumerable<T> items) => _items = items.ToArray();

    public ModuleList(params T[] items) => _items = (T[])items.Clone();

    public T this[int index] => _items[index];

    public int Count => _items.Length;

    public override IEnumerable<(string Name, Module? Module)> Children() =>
        _items.Select((m, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), (Module?)m));

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();
}
