using MagDi.Runtime;
using TorchSharp;

// Minimal end-to-end check of the runtime until the full MAGDi quickstart lands:
// load the native backend and fit a tiny regression with autograd.
TorchRuntime.EnsureInitialized();
torch.manual_seed(0);
var x = torch.randn(256, 4);
var trueW = torch.tensor(new float[] { 1.5f, -2f, 0.5f, 3f }).reshape(4, 1);
var y = x.matmul(trueW);
var model = torch.nn.Linear(4, 1);
var optimizer = torch.optim.AdamW(model.parameters(), lr: 0.05);
float loss = 0;
for (int step = 0; step < 300; step++)
{
    using var scope = torch.NewDisposeScope();
    optimizer.zero_grad();
    var l = torch.nn.functional.mse_loss(model.forward(x), y);
    l.backward();
    optimizer.step();
    loss = l.item<float>();
}

Console.WriteLine($"MagDi runtime OK: final loss {loss:F5}");
return loss < 1e-2 ? 0 : 1;
