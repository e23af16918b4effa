using System.Text;
using MagDi.Core.Tests.Modeling;
using MagDi.SafeTensors;

namespace MagDi.Core.Tests.Hostile;

/// <summary>
/// Hostile safetensors headers (issue 15): data ranges that overlap, leave holes or stop short of the end, duplicate
/// names, shapes whose size overflows, unpaired surrogate escapes. Each is an <see cref="InvalidDataException"/> naming
/// the file, the tensor and the field.
/// </summary>
public sealed class HostileSafeTensorsTests
{
    private static string WriteSafeTensors(string header, int dataBytes)
    {
        string path = Path.Combine(TestCheckpoints.TempDir(), "x.safetensors");
        byte[] json = Encoding.UTF8.GetBytes(header);
        using var f = File.Create(path);
        f.Write(BitConverter.GetBytes((long)json.Length));
        f.Write(json);
        f.Write(new byte[dataBytes]);
        return path;
    }

    [Fact]
    public void SafeTensors_OverlappingDataOffsets_AreRejectedNamingTensorAndField()
    {
        string path = WriteSafeTensors("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12);

        var ex = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));

        Assert.Equal($"'{path}': tensor 'b', field 'data_offsets': [4, 12] overlaps tensor 'a' [0, 8]; tensors may not share bytes.", ex.Message);
    }

    [Fact]
    public void SafeTensors_TwoTensorsOnTheSameBytes_AreRejected()
    {
        string path = WriteSafeTensors("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}""", 8);

        var ex = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));

        Assert.Contains("overlaps tensor 'a' [0, 8]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SafeTensors_AHoleBetweenTensors_IsRejected()
    {
        string path = WriteSafeTensors("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12);

        var ex = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));

        Assert.Equal($"'{path}': tensor 'b', field 'data_offsets': [8, 12] leaves data bytes 4..8 unused; the format allows no holes between tensors.", ex.Message);
    }

    [Fact]
    public void SafeTensors_BytesAfterTheLastTensor_AreRejected()
    {
        string path = WriteSafeTensors("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 6);

        var ex = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));

        Assert.Equal($"'{path}': the tensors cover 4 of the 6 data bytes; the format allows no bytes after the last tensor.", ex.Message);
    }

    [Fact]
    public void SafeTensors_HeaderOrderDifferentFromDataOrderAndEmptyTensors_AreAccepted()
    {
        string path = WriteSafeTensors(
            """{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8);

        using var file = SafeTensorsFile.Open(path);

        Assert.Equal(["b", "e", "a"], file.Tensors.Keys);
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "tensor 'a' appears twice")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}""", 4, "field 'shape': [4611686018427387904, 4] has more elements than any file can hold")]
    [InlineData("""{"a\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, "a property name holds the escape \\ud800")]
    public void SafeTensors_HostileHeaders_AreRejectedNamingTheProblem(string header, int dataBytes, string expected)
    {
        string path = WriteSafeTensors(header, dataBytes);

        var ex = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
