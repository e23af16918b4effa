using MagDi.Cli;

return await MagDiApp.RunAsync(args, Console.Out, Console.Error);
