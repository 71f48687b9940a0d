using System.Buffers.Binary;
using System.Text;

namespace DistriGen.Torch;

/// <summary>
/// Edits the version requirements (SHT_GNU_verneed) of a 64-bit little-endian ELF shared library: marks a
/// required symbol version weak (VER_FLG_WEAK), so the dynamic loader accepts a system that lacks it.
/// Only safe for a version no relocation needs (see <see cref="TorchLibrary"/>).
/// </summary>
internal static class ElfVersionNeeds
{
    private const uint GnuVersionNeedSection = 0x6ffffffe;
    private const ushort WeakFlag = 0x2;

    /// <summary>Marks every requirement of <paramref name="version"/> weak; returns how many entries changed.</summary>
    public static int MarkWeak(Span<byte> elf, string version)
    {
        if (elf.Length < 64 || !elf[..4].SequenceEqual("\u007fELF"u8) || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("Not a 64-bit little-endian ELF file.");
        long sectionTable = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf[0x28..]);
        int entrySize = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3A..]);
        int sections = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3C..]);
        int changed = 0;
        for (int i = 0; i < sections; i++)
        {
            var header = elf[(int)(sectionTable + (long)i * entrySize)..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) != GnuVersionNeedSection) continue;
            long need = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[0x18..]);
            uint linkedStrings = BinaryPrimitives.ReadUInt32LittleEndian(header[0x28..]);
            uint needCount = BinaryPrimitives.ReadUInt32LittleEndian(header[0x2C..]);
            var stringsHeader = elf[(int)(sectionTable + (long)linkedStrings * entrySize)..];
            long strings = (long)BinaryPrimitives.ReadUInt64LittleEndian(stringsHeader[0x18..]);
            for (uint n = 0; n < needCount; n++)
            {
                // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
                int auxCount = BinaryPrimitives.ReadUInt16LittleEndian(elf[(int)(need + 2)..]);
                long aux = need + BinaryPrimitives.ReadUInt32LittleEndian(elf[(int)(need + 8)..]);
                for (int a = 0; a < auxCount; a++)
                {
                    // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
                    var entry = elf[(int)aux..];
                    var name = elf[(int)(strings + BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]))..];
                    name = name[..name.IndexOf((byte)0)];
                    ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(entry[4..]);
                    if (Encoding.ASCII.GetString(name) == version && (flags & WeakFlag) == 0)
                    {
                        BinaryPrimitives.WriteUInt16LittleEndian(entry[4..], (ushort)(flags | WeakFlag));
                        changed++;
                    }
                    aux += BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]);
                }
                uint next = BinaryPrimitives.ReadUInt32LittleEndian(elf[(int)(need + 12)..]);
                if (next == 0) break;
                need += next;
            }
        }
        return changed;
    }
}
