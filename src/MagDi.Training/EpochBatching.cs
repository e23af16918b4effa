namespace MagDi.Training;

/// <summary>The batch order of one epoch, shared by <see cref="MagDiTrainer"/> and <see cref="PretrainingTrainer"/>.</summary>
internal static class EpochBatching
{
    /// <summary>
    /// The batches of epoch <paramref name="epoch"/> as item indices: a seeded shuffle, then length bucketing inside windows
    /// of 16 batches so that items of similar length share a batch (less padding), then a seeded shuffle of the batches.
    /// A pure function of (<paramref name="seed"/>, <paramref name="epoch"/>, the lengths).
    /// </summary>
    public static int[][] Batches(int count, Func<int, int> length, int batchSize, int seed, int epoch)
    {
        var rng = new Random(unchecked((seed * 1_000_003) + epoch));
        int[] order = Enumerable.Range(0, count).ToArray();
        rng.Shuffle(order);
        int window = batchSize * 16;
        var batches = new List<int[]>();
        for (int start = 0; start < order.Length; start += window)
        {
            int[] chunk = order.Skip(start).Take(window).OrderBy(length).ToArray();
            for (int b = 0; b < chunk.Length; b += batchSize)
            {
                batches.Add(chunk.Skip(b).Take(batchSize).ToArray());
            }
        }

        int[][] shuffled = [.. batches];
        rng.Shuffle(shuffled);
        return shuffled;
    }
}
