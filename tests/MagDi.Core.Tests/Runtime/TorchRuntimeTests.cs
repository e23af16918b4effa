using MagDi.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Runtime;

public sealed class TorchRuntimeTests
{
    [Fact]
    public void EnsureInitialized_LoadsTheBackend_AndAForwardBackwardPassRuns()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        var lin = nn.Linear(4, 3);
        var x = tensor(new float[] { 1, 2, 3, 4, -1, 0, 1, 2 }).reshape(2, 4);
        var loss = lin.forward(x).pow(2).sum();
        loss.backward();

        var expected = 2 * (x.T.matmul(lin.forward(x).detach())).T; // d/dW sum((xW^T+b)^2)
        Assert.True(allclose(lin.weight!.grad!, expected, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void EnsureInitialized_OnLinux_LeavesTheApplicationCopyLoadable()
    {
        TorchRuntime.EnsureInitialized();
        if (!OperatingSystem.IsLinux() || LibTorchSharpPatcher.SystemLibStdCxxDefines(LibTorchSharpPatcher.UnusedGlibcxxVersion))
        {
            return;
        }

        // On a libstdc++ without GLIBCXX_3.4.32 the only way TorchSharp loaded is through a weak need.
        string[] copies = Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories);
        Assert.NotEmpty(copies);
        foreach (string copy in copies)
        {
            byte[] image = File.ReadAllBytes(copy);
            Assert.Equal(ElfPatchOutcome.AlreadyWeak, LibTorchSharpPatcher.MakeVersionNeedWeak(image, LibTorchSharpPatcher.UnusedGlibcxxVersion));
        }
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("CPU")]
    [InlineData(" auto ")]
    public void ResolveDevice_AcceptsCpuAndAuto(string name)
    {
        var device = TorchRuntime.ResolveDevice(name);
        Assert.True(device.type is DeviceType.CPU or DeviceType.CUDA);
    }

    [Fact]
    public void ResolveDevice_RejectsUnknownNames()
    {
        var error = Assert.Throws<ArgumentException>(() => TorchRuntime.ResolveDevice("tpu"));
        Assert.Contains("tpu", error.Message);
    }

    [Fact]
    public void ResolveDevice_Cuda_OnACpuBackend_ExplainsWhichPackageToReference()
    {
        if (torch.cuda.is_available())
        {
            return;
        }

        var error = Assert.Throws<TorchRuntimeException>(() => TorchRuntime.ResolveDevice("cuda:0"));
        Assert.Contains("TorchSharp-cuda", error.Message);
    }
}
