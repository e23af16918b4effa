using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;

namespace MagDi.Discussion.Tests;

/// <summary>A fault the fake server injects instead of answering.</summary>
public enum Fault
{
    None,
    TooManyRequests,
    ServerError,
    Timeout,
    MalformedJson,
    DropConnection,
    /// <summary>HTTP 200 with a well-formed completion whose <c>choices</c> list is empty.</summary>
    EmptyChoices,
    /// <summary>HTTP 401 (a wrong API key).</summary>
    Unauthorized,
}

/// <summary>
/// An OpenAI chat-completions server on 127.0.0.1 (random free port), answering with chat clients chosen by
/// model name, with injected faults.
/// </summary>
public sealed class FakeOpenAIServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;
    private readonly int[] _faultCounts = new int[Enum.GetValues<Fault>().Length];

    private FakeOpenAIServer(WebApplication app, Uri endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    public Uri Endpoint { get; }

    public int Requests => Volatile.Read(ref _requests);

    public int FaultCount(Fault fault) => Volatile.Read(ref _faultCounts[(int)fault]);

    public string RetryAfter { get; init; } = "0.01";

    public static async Task<FakeOpenAIServer> StartAsync(IReadOnlyDictionary<string, IChatClient> models, Func<int, Fault> faults, TimeSpan? timeoutDelay = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeOpenAIServer? server = null;
        app.MapPost("/v1/chat/completions", async (HttpContext http) =>
        {
            int n = Interlocked.Increment(ref server!._requests);
            Fault fault = faults(n);
            Interlocked.Increment(ref server._faultCounts[(int)fault]);
            switch (fault)
            {
                case Fault.TooManyRequests:
                    http.Response.StatusCode = 429;
                    http.Response.Headers.RetryAfter = server.RetryAfter;
                    await http.Response.WriteAsJsonAsync(new { error = new { message = "Rate limit reached", type = "rate_limit_error" } });
                    return;
                case Fault.ServerError:
                    http.Response.StatusCode = 500;
                    await http.Response.WriteAsJsonAsync(new { error = new { message = "The server had an error", type = "server_error" } });
                    return;
                case Fault.Timeout:
                    try
                    {
                        await Task.Delay(timeoutDelay ?? TimeSpan.FromSeconds(5), http.RequestAborted);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    break;
                case Fault.MalformedJson:
                    http.Response.ContentType = "application/json";
                    await http.Response.WriteAsync("{\"id\": \"chatcmpl-broken\", \"choices\": [{\"message\": {\"content\": \"unterminated");
                    return;
                case Fault.DropConnection:
                    http.Abort();
                    return;
                case Fault.EmptyChoices:
                    http.Response.ContentType = "application/json";
                    await http.Response.WriteAsync(
                        $"{{\"id\": \"chatcmpl-{n}\", \"object\": \"chat.completion\", \"created\": 1700000000, \"model\": \"m\", \"choices\": [], " +
                        "\"usage\": {\"prompt_tokens\": 1, \"completion_tokens\": 0, \"total_tokens\": 1}}");
                    return;
                case Fault.Unauthorized:
                    http.Response.StatusCode = 401;
                    await http.Response.WriteAsJsonAsync(new { error = new { message = "Incorrect API key provided", type = "invalid_request_error", code = "invalid_api_key" } });
                    return;
            }

            using var doc = await JsonDocument.ParseAsync(http.Request.Body);
            string model = doc.RootElement.GetProperty("model").GetString()!;
            if (!models.TryGetValue(model, out var client))
            {
                http.Response.StatusCode = 404;
                await http.Response.WriteAsJsonAsync(new { error = new { message = $"model {model} not found" } });
                return;
            }

            var messages = doc.RootElement.GetProperty("messages").EnumerateArray().Select(ToMessage).ToList();
            var response = await client.GetResponseAsync(messages);
            var body = new JsonObject
            {
                ["id"] = $"chatcmpl-{n}",
                ["object"] = "chat.completion",
                ["created"] = 1_700_000_000,
                ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = response.Text },
                    ["finish_reason"] = "stop",
                }),
                ["usage"] = new JsonObject
                {
                    ["prompt_tokens"] = response.Usage?.InputTokenCount ?? 0,
                    ["completion_tokens"] = response.Usage?.OutputTokenCount ?? 0,
                    ["total_tokens"] = response.Usage?.TotalTokenCount ?? 0,
                },
            };
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(body.ToJsonString());
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new FakeOpenAIServer(app, new Uri(address.TrimEnd('/') + "/v1"));
        return server;
    }

    /// <summary>The real OpenAI-compatible client for one model of this server, with the SDK's own retries off.</summary>
    public IChatClient ClientFor(string model) =>
        new OpenAI.Chat.ChatClient(model, new ApiKeyCredential("test"), new OpenAIClientOptions
        {
            Endpoint = Endpoint,
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        }).AsIChatClient();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static ChatMessage ToMessage(JsonElement m)
    {
        var role = new ChatRole(m.GetProperty("role").GetString()!);
        var content = m.GetProperty("content");
        string text = content.ValueKind == JsonValueKind.String
            ? content.GetString()!
            : string.Concat(content.EnumerateArray().Select(p => p.TryGetProperty("text", out var t) ? t.GetString() : string.Empty));
        return new ChatMessage(role, text);
    }
}
