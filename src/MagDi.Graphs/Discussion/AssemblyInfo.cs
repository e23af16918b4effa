using System.Runtime.CompilerServices;

// The discussion tests live in their own project (they host an ASP.NET Core server).
[assembly: InternalsVisibleTo("MagDi.Discussion.Tests")]
