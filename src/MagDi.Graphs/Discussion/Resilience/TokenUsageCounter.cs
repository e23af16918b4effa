using Microsoft.Extensions.AI;

namespace MagDi.Graphs.Discussion;

/// <summary>
/// Counts the chat calls that pass a point of a chat-client pipeline and the tokens their replies report. Thread-safe.
/// Add it with <see cref="MagDiChatClientBuilderExtensions.UseTokenUsageCounter"/>.
/// </summary>
/// <remarks>
/// Placed below a cache (<c>.UseDistributedCache().UseTokenUsageCounter(counter)</c>), it counts only what reaches the
/// provider: what a run costs. The discussion runner's usage log records what each MAG's replies report, whether they
/// came from the provider or from a cache.
/// </remarks>
public sealed class TokenUsageCounter
{
    private readonly Lock _gate = new();
    private TokenUsage _total;

    /// <summary>Calls and tokens counted so far.</summary>
    public TokenUsage Total
    {
        get
        {
            lock (_gate)
            {
                return _total;
            }
        }
    }

    /// <summary>Counts one reply.</summary>
    /// <param name="response">The reply.</param>
    internal void Add(ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var usage = TokenUsage.FromDetails(response.Usage);
        lock (_gate)
        {
            _total += usage;
        }
    }

    /// <summary>Starts counting from zero again.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _total = default;
        }
    }
}

/// <summary>The middleware behind <see cref="MagDiChatClientBuilderExtensions.UseTokenUsageCounter"/>.</summary>
internal sealed class TokenUsageCountingChatClient(IChatClient innerClient, TokenUsageCounter counter) : DelegatingChatClient(innerClient)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        counter.Add(response);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            updates.Add(update);
            yield return update;
        }

        counter.Add(updates.ToChatResponse());
    }
}
