using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace MagDi.Cli.Tests;

/// <summary>An OpenAI-compatible chat-completions endpoint whose every answer comes from a script.</summary>
internal sealed class ScriptedChatServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<int, string, JsonElement, (HttpStatusCode Status, string Body)> _script;
    private readonly Task _loop;
    private readonly List<string> _models = [];
    private int _requests;

    public ScriptedChatServer(Func<int, string, (HttpStatusCode Status, string Body)> script)
        : this((number, model, _) => script(number, model))
    {
    }

    /// <summary>A server whose script also reads the request (its JSON body: messages, temperature, seed, ...).</summary>
    public ScriptedChatServer(Func<int, string, JsonElement, (HttpStatusCode Status, string Body)> script)
    {
        _script = script;
        int port = FreePort();
        BaseUrl = $"http://127.0.0.1:{port}/v1";
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public string BaseUrl { get; }

    /// <summary>A loopback port nothing listens on (just now).</summary>
    public static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The <c>model</c> of every request so far, in arrival order.</summary>
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

    public static string Reply(string reasoning) =>
        JsonSerializer.Serialize(new Dictionary<string, object> { ["reasoning"] = reasoning, ["answer"] = "42", ["confidence_level"] = 0.8 });

    /// <summary>A chat completion with one choice holding <paramref name="content"/>, or with no choices when it is null.</summary>
    public static string Completion(string model, string? content) => JsonSerializer.Serialize(new
    {
        id = "chatcmpl-1",
        @object = "chat.completion",
        created = 1_700_000_000,
        model,
        choices = content is null
            ? Array.Empty<object>()
            : [new { index = 0, message = new { role = "assistant", content }, finish_reason = "stop" }],
        usage = new { prompt_tokens = 50, completion_tokens = 20, total_tokens = 70 },
    });

    public static string Error(string message) =>
        JsonSerializer.Serialize(new { error = new { message, type = "invalid_request_error" } });

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

            var (status, body) = _script(Interlocked.Increment(ref _requests), model, request.RootElement);
            byte[] bytes = Encoding.UTF8.GetBytes(body);
            context.Response.StatusCode = (int)status;
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
