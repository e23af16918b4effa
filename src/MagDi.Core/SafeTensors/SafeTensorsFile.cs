using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MagDi.IO;
using MagDi.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.SafeTensors;

/// <summary>One tensor entry of a safetensors header.</summary>
public sealed class SafeTensorInfo
{
    internal SafeTensorInfo(string name, string dType, IReadOnlyList<long> shape, long begin, long end)
    {
        Name = name;
        DType = dType;
        Shape = shape;
        Begin = begin;
        End = end;
    }

    /// <summary>Tensor name (a state-dict key).</summary>
    public string Name { get; }

    /// <summary>The on-disk dtype code: <c>F32</c>, <c>BF16</c>, <c>F16</c>, <c>F64</c>, <c>I64</c>, <c>I32</c>, <c>I16</c>, <c>I8</c>, <c>U8</c> or <c>BOOL</c>.</summary>
    public string DType { get; }

    /// <summary>The tensor shape.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Start of the data, relative to the end of the header.</summary>
    public long Begin { get; }

    /// <summary>End (exclusive) of the data, relative to the end of the header.</summary>
    public long End { get; }

    /// <summary>The TorchSharp scalar type of the on-disk dtype.</summary>
    public ScalarType ScalarType => SafeTensorsFile.ToScalarType(DType);

    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Reader and writer for the <a href="https://github.com/huggingface/safetensors">safetensors</a> format:
/// an 8-byte little-endian header length, a UTF-8 JSON header mapping each tensor name to
/// <c>{"dtype","shape","data_offsets"}</c> (plus an optional <c>__metadata__</c> string map), then the raw
/// little-endian tensor bytes. Reading is tensor by tensor, straight into the destination tensor's memory.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;
    private readonly FileStream _stream;
    private readonly long _dataStart;

    private SafeTensorsFile(string path, FileStream stream, long dataStart, Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _stream = stream;
        _dataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file path.</summary>
    public string Path { get; }

    /// <summary>Entries by tensor name, in header order.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens a file and parses and validates its header.</summary>
    /// <exception cref="InvalidDataException">The header is malformed; the message names the file, the tensor and the field.</exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = InputFile.OpenRead(path, 1 << 16);
        try
        {
            long fileLength = stream.Length;
            Span<byte> lenBytes = stackalloc byte[8];
            if (fileLength < 8 || stream.Read(lenBytes) != 8)
            {
                throw new InvalidDataException($"'{path}': not a safetensors file (shorter than the 8-byte header length).");
            }

            long headerLength = BitConverter.ToInt64(lenBytes);
            if (!BitConverter.IsLittleEndian)
            {
                headerLength = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(headerLength);
            }

            if (headerLength <= 0 || headerLength > MaxHeaderBytes || headerLength > fileLength - 8)
            {
                throw new InvalidDataException($"'{path}': header length {headerLength} is invalid for a file of {fileLength} bytes.");
            }

            var headerBytes = new byte[headerLength];
            stream.ReadExactly(headerBytes);
            long dataStart = 8 + headerLength;
            var (tensors, metadata) = ParseHeader(path, headerBytes, fileLength - dataStart);
            return new SafeTensorsFile(path, stream, dataStart, tensors, metadata);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static (Dictionary<string, SafeTensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] headerBytes, long dataLength)
    {
        // Strict UTF-8, every string valid Unicode, syntax errors with line and field (the header is untrusted input).
        using JsonDocument doc = JsonFile.Parse($"'{path}' (safetensors header)", headerBytes);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{path}': the header must be a JSON object mapping tensor names to entries.");
        }

        var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        bool seenMetadata = false;
        foreach (JsonProperty property in doc.RootElement.EnumerateObject())
        {
            string name = property.Name;
            if (name == "__metadata__")
            {
                if (seenMetadata || property.Value.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"'{path}': __metadata__ must appear once, as an object of strings.");
                }

                seenMetadata = true;
                foreach (JsonProperty entry in property.Value.EnumerateObject())
                {
                    metadata[entry.Name] = entry.Value.ValueKind == JsonValueKind.String
                        ? entry.Value.GetString()!
                        : throw new InvalidDataException($"'{path}': __metadata__.{entry.Name} must be a string.");
                }

                continue;
            }

            if (tensors.ContainsKey(name))
            {
                throw new InvalidDataException($"'{path}': tensor '{name}' appears twice in the header (the format disallows duplicate keys).");
            }

            tensors[name] = ParseEntry(path, name, property.Value, dataLength);
        }

        CheckLayout(path, tensors.Values, dataLength);
        return (tensors, metadata);
    }

    /// <summary>
    /// The data byte ranges must tile the data exactly, as the format's reference implementation requires: ordered by
    /// offset they start at 0, each begins where the previous ends (no overlap, no hole) and the last ends at the end
    /// of the file. Overlapping ranges would let two tensors share (and a crafted file alias) the same bytes.
    /// </summary>
    private static void CheckLayout(string path, IEnumerable<SafeTensorInfo> tensors, long dataLength)
    {
        long covered = 0;
        SafeTensorInfo? previous = null;
        foreach (SafeTensorInfo t in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (t.Begin < covered)
            {
                throw new InvalidDataException(
                    $"'{path}': tensor '{t.Name}', field 'data_offsets': [{t.Begin}, {t.End}] overlaps tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]; tensors may not share bytes.");
            }

            if (t.Begin > covered)
            {
                throw new InvalidDataException(
                    $"'{path}': tensor '{t.Name}', field 'data_offsets': [{t.Begin}, {t.End}] leaves data bytes {covered}..{t.Begin} unused; the format allows no holes between tensors.");
            }

            covered = t.End;
            previous = t;
        }

        if (covered != dataLength)
        {
            throw new InvalidDataException(
                $"'{path}': the tensors cover {covered} of the {dataLength} data bytes; the format allows no bytes after the last tensor.");
        }
    }

    private static SafeTensorInfo ParseEntry(string path, string name, JsonElement entry, long dataLength)
    {
        string Where(string field) => $"'{path}': tensor '{name}', field '{field}'";
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{path}': tensor '{name}' must be an object with dtype, shape and data_offsets.");
        }

        string dtype = entry.TryGetProperty("dtype", out JsonElement dv) && dv.ValueKind == JsonValueKind.String
            ? dv.GetString()!
            : throw new InvalidDataException($"{Where("dtype")}: missing or not a string.");
        long elementSize = ElementSize(dtype, () => Where("dtype"));
        if (!entry.TryGetProperty("shape", out JsonElement shapeArray) || shapeArray.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{Where("shape")}: missing or not an array.");
        }

        var shape = new long[shapeArray.GetArrayLength()];
        for (int i = 0; i < shape.Length; i++)
        {
            shape[i] = shapeArray[i].ValueKind == JsonValueKind.Number && shapeArray[i].TryGetInt64(out long s) && s >= 0
                ? s
                : throw new InvalidDataException($"{Where("shape")}[{i}]: not a non-negative integer.");
        }

        if (!entry.TryGetProperty("data_offsets", out JsonElement offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2
            || offsets[0].ValueKind != JsonValueKind.Number || !offsets[0].TryGetInt64(out long begin)
            || offsets[1].ValueKind != JsonValueKind.Number || !offsets[1].TryGetInt64(out long end))
        {
            throw new InvalidDataException($"{Where("data_offsets")}: must be an array of two integers [begin, end].");
        }

        if (begin < 0 || end < begin || end > dataLength)
        {
            throw new InvalidDataException($"{Where("data_offsets")}: [{begin}, {end}] lies outside the {dataLength} data bytes.");
        }

        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (a, b) => a * b) * elementSize);
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"{Where("shape")}: [{string.Join(", ", shape)}] has more elements than any file can hold.");
        }

        if (end - begin != expected)
        {
            throw new InvalidDataException($"{Where("data_offsets")}: spans {end - begin} bytes but dtype {dtype} with shape [{string.Join(", ", shape)}] needs {expected}.");
        }

        return new SafeTensorInfo(name, dtype, shape, begin, end);
    }

    /// <summary>Reads a tensor as a new CPU tensor in its on-disk dtype.</summary>
    /// <exception cref="KeyNotFoundException">No tensor of that name.</exception>
    public Tensor Read(string name)
    {
        TorchRuntime.EnsureInitialized();
        SafeTensorInfo info = Get(name);
        Tensor result = empty(info.Shape.ToArray(), info.ScalarType, CPU);
        try
        {
            ReadBytes(info, result);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads a tensor into an existing tensor of the same shape, converting dtype and moving to its device.
    /// Peak extra memory is one copy of this tensor in its on-disk dtype (none when dtype matches on CPU).
    /// </summary>
    /// <exception cref="InvalidDataException">The shapes differ.</exception>
    public void ReadInto(string name, Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        SafeTensorInfo info = Get(name);
        if (!info.Shape.SequenceEqual(destination.shape))
        {
            throw new InvalidDataException($"'{Path}': tensor '{name}' has shape [{string.Join(", ", info.Shape)}] but the model expects [{string.Join(", ", destination.shape)}].");
        }

        using var noGrad = no_grad();
        if (destination.device_type == DeviceType.CPU && destination.dtype == info.ScalarType && destination.is_contiguous())
        {
            ReadBytes(info, destination);
            return;
        }

        using Tensor staging = Read(name);
        destination.copy_(staging);
    }

    private SafeTensorInfo Get(string name) =>
        Tensors.TryGetValue(name, out SafeTensorInfo? info) ? info : throw new KeyNotFoundException($"'{Path}' has no tensor '{name}'.");

    private void ReadBytes(SafeTensorInfo info, Tensor destination)
    {
        long total = info.End - info.Begin;
        if (total == 0)
        {
            return;
        }

        _stream.Seek(_dataStart + info.Begin, SeekOrigin.Begin);
        using Tensor flat = destination.view(-1);
        long elementSize = total / Math.Max(1, info.ElementCount);
        long chunkElements = Math.Max(1, (1L << 30) / elementSize);
        for (long start = 0; start < info.ElementCount; start += chunkElements)
        {
            long n = Math.Min(chunkElements, info.ElementCount - start);
            using Tensor part = flat.narrow(0, start, n);
            _stream.ReadExactly(part.bytes);
        }
    }

    /// <summary>
    /// Writes tensors to a safetensors file. Tensors are written in the given order with their own dtype;
    /// non-contiguous or non-CPU tensors are copied to a contiguous CPU tensor one at a time. The file is written through
    /// <see cref="AtomicFile"/>: a kill or a full disk leaves the old file or the new one, never a truncated one.
    /// </summary>
    /// <exception cref="ArgumentException">A name is repeated or a dtype is not supported.</exception>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        TorchRuntime.EnsureInitialized();
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata)
            {
                meta[k] = v;
            }

            header["__metadata__"] = meta;
        }

        long offset = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in list)
        {
            if (!seen.Add(name))
            {
                throw new ArgumentException($"Tensor name '{name}' appears twice.", nameof(tensors));
            }

            string dtype = ToDTypeCode(t.dtype);
            long bytes = t.numel() * t.ElementSize;
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }

        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        AtomicFile.Write(path, stream => WriteBody(stream, json, list));
    }

    private static void WriteBody(Stream stream, byte[] json, List<KeyValuePair<string, Tensor>> list)
    {
        int padded = (json.Length + 7) / 8 * 8;
        Span<byte> lenBytes = stackalloc byte[8];
        BitConverter.TryWriteBytes(lenBytes, (long)padded);
        stream.Write(lenBytes);
        stream.Write(json);
        for (int i = json.Length; i < padded; i++)
        {
            stream.WriteByte((byte)' ');
        }

        foreach (var (_, t) in list)
        {
            if (t.numel() == 0)
            {
                continue;
            }

            using var noGrad = no_grad();
            using Tensor cpu = t.device_type == DeviceType.CPU && t.is_contiguous() ? t.alias() : t.detach().to(CPU).contiguous();
            using Tensor flat = cpu.view(-1);
            long chunk = Math.Max(1, (1L << 30) / t.ElementSize);
            for (long start = 0; start < flat.numel(); start += chunk)
            {
                using Tensor part = flat.narrow(0, start, Math.Min(chunk, flat.numel() - start));
                stream.Write(part.bytes);
            }
        }
    }

    /// <summary>Maps a safetensors dtype code to a TorchSharp scalar type.</summary>
    /// <exception cref="NotSupportedException">Unknown or unsupported code (for example F8 types).</exception>
    public static ScalarType ToScalarType(string dtype) => dtype switch
    {
        "F32" => ScalarType.Float32,
        "BF16" => ScalarType.BFloat16,
        "F16" => ScalarType.Float16,
        "F64" => ScalarType.Float64,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => throw new NotSupportedException($"safetensors dtype '{dtype}' is not supported (supported: F32, BF16, F16, F64, I64, I32, I16, I8, U8, BOOL)."),
    };

    /// <summary>Maps a TorchSharp scalar type to its safetensors dtype code.</summary>
    /// <exception cref="NotSupportedException">The type has no safetensors code here.</exception>
    internal static string ToDTypeCode(ScalarType type) => type switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float16 => "F16",
        ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new NotSupportedException($"Tensors of type {type} cannot be written to safetensors."),
    };

    private static long ElementSize(string dtype, Func<string> where)
    {
        try
        {
            return ToScalarType(dtype) switch
            {
                ScalarType.Float64 or ScalarType.Int64 => 8,
                ScalarType.Float32 or ScalarType.Int32 => 4,
                ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Int16 => 2,
                _ => 1,
            };
        }
        catch (NotSupportedException ex)
        {
            throw new InvalidDataException($"{where()}: {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();
}
