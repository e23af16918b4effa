using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MagDi.Graphs.IO;

namespace MagDi.Cli.Tests;

/// <summary>
/// <c>magdi discuss</c> with real agents: the CLI's OpenAI client talks to a tiny OpenAI-compatible chat-completions
/// server on 127.0.0.1 started by the test.
/// </summary>
[Collection(CliTestGroup.Name)]
public sealed class DiscussRealClientTests(CliFixture fixture)
{
    [Fact]
    public async Task Agents_OnAnOpenAiCompatibleServer_ProduceMags()
    {
        using var server = new FakeChatServer(HttpStatusCode.OK);
        string outPath = Path.Combine(fixture.NewDirectory("discuss-http"), "mags.jsonl");
        var (code, output, err) = await CliFixture.Run(
            "discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:2", "--out", outPath, "--rounds", "1",
            "--agent", $"a={server.BaseUrl}|model-a", "--agent", $"b={server.BaseUrl}|model-b");

        Assert.True(code == 0, err);
        Assert.Contains("Wrote 2 MAG(s)", output);
        var read = await MagFile.ReadAsync(outPath);
        Assert.Equal(2, read.Graphs.Count);
        Assert.All(read.Graphs, g => Assert.All(g.Nodes, n => Assert.Equal("42", n.Answer)));
        Assert.Contains("model-a", server.Models);
        Assert.Contains("model-b", server.Models);
    }

    [Fact]
    public async Task Agents_ThatRejectEveryCall_FailTheQuestionsWithExitCode2()
    {
        using var server = new FakeChatServer(HttpStatusCode.BadRequest);
        string outPath = Path.Combine(fixture.NewDirectory("discuss-400"), "mags.jsonl");
        var (code, _, err) = await CliFixture.Run(
            "discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:2", "--out", outPath,
            "--agent", $"a={server.BaseUrl}|m", "--agent", $"b={server.BaseUrl}|m");

        Assert.Equal(2, code);
        Assert.Contains("2 question(s) failed", err);
    }

    /// <summary>Answers every POST to /v1/chat/completions with a fixed ReConcile reply, or with an error status.</summary>
    private sealed class FakeChatServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly HttpStatusCode _status;
        private readonly Task _loop;
        private readonly List<string> _models = [];

        public FakeChatServer(HttpStatusCode status)
        {
            _status = status;
            int port = FreePort();
            BaseUrl = $"http://127.0.0.1:{port}/v1";
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            _listener.Start();
            _loop = Task.Run(ServeAsync);
        }

        public string BaseUrl { get; }

        public IReadOnlyList<string> Models
        {
            get
            {
                lock (_models)
                {
                    return [.. _models];
                }
            }
        }

        private static int FreePort()
        {
            using var socket = new TcpListener(IPAddress.Loopback, 0);
            socket.Start();
            return ((IPEndPoint)socket.LocalEndpoint).Port;
        }

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
                using var request = JsonDocument.Parse(await reader.ReadToEndAsync());
                string model = request.RootElement.GetProperty("model").GetString()!;
                lock (_models)
                {
                    _models.Add(model);
                }

                string body;
                if (_status == HttpStatusCode.OK)
                {
                    string content = "{\"reasoning\": \"6 times 7 is 42.\", \"answer\": \"42\", \"confidence_level\": 0.8}";
                    body = JsonSerializer.Serialize(new
                    {
                        id = "chatcmpl-1",
                        @object = "chat.completion",
                        created = 1_700_000_000,
                        model,
                        choices = new[] { new { index = 0, message = new { role = "assistant", content }, finish_reason = "stop" } },
                        usage = new { prompt_tokens = 50, completion_tokens = 20, total_tokens = 70 },
                    });
                }
                else
                {
                    body = "{\"error\": {\"message\": \"bad request\", \"type\": \"invalid_request_error\"}}";
                }

                byte[] bytes = Encoding.UTF8.GetBytes(body);
                context.Response.StatusCode = (int)_status;
                context.Response.ContentType = "application/json";
                context.Response.ContentLength64 = bytes.Length;
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
    }
}
