global using MagDi.Graphs.Gcn;
global using MagDi.Graphs.Heads;
global using MagDi.Graphs.Tests.Gcn;
global using TorchSharp;
global using static TorchSharp.torch;
