using MagDi.Tasks;

namespace MagDi.Graphs.IO;

internal static class GraphErrors
{
    /// <summary>Turns the problems of an invalid graph into one located data error.</summary>
    public static DataError ToDataError(JsonFields f, InvalidGraphException ex) =>
        f.ErrorAt(ex.Problems[0].Field, ex.Problems.Count == 1 ? ex.Problems[0].Reason : string.Join("; ", ex.Problems));
}
