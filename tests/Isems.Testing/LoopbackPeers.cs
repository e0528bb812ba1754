using System.Globalization;
using System.Net;

namespace Isems.Testing;

/// <summary>
/// Which local process holds the other end of a loopback TCP connection, read from Linux's /proc: the kernel's socket
/// table (<c>/proc/net/tcp</c>, <c>/proc/net/tcp6</c>) gives the client socket's inode by its port pair, and a
/// process's <c>/proc/{pid}/fd</c> links name the inodes it holds. Several collector processes fetch from one
/// simulated fleet; only the kernel can say which of them sent a request, without the product telling on itself.
/// </summary>
public static class LoopbackPeers
{
    /// <summary>
    /// The one of <paramref name="candidates"/> (process ids) holding the client socket connected from
    /// <paramref name="client"/> to local port <paramref name="serverPort"/>; null when none of them holds it (it
    /// closed already, or another process asked). Call it while the client still waits for its answer.
    /// </summary>
    public static int? OwnerOf(IPEndPoint client, int serverPort, IReadOnlyCollection<int> candidates)
    {
        var inodes = ClientSocketInodes(client.Port, serverPort);
        if (inodes.Count == 0) return null;
        foreach (var pid in candidates)
            if (HoldsAny(pid, inodes))
                return pid;
        return null;
    }

    /// <summary>Inodes of sockets whose local port is the client's and remote port the server's (IPv4, and IPv6 with mapped addresses).</summary>
    private static HashSet<string> ClientSocketInodes(int clientPort, int serverPort)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        var local = ":" + clientPort.ToString("X4", CultureInfo.InvariantCulture);
        var remote = ":" + serverPort.ToString("X4", CultureInfo.InvariantCulture);
        foreach (var table in (string[])["/proc/net/tcp", "/proc/net/tcp6"])
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(table);
            }
            catch (IOException)
            {
                continue;
            }
            // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode ..."
            foreach (var line in lines.Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 9 && fields[1].EndsWith(local, StringComparison.Ordinal) &&
                    fields[2].EndsWith(remote, StringComparison.Ordinal) && fields[9] != "0")
                    inodes.Add(fields[9]);
            }
        }
        return inodes;
    }

    private static bool HoldsAny(int pid, HashSet<string> inodes)
    {
        IEnumerable<string> descriptors;
        try
        {
            descriptors = Directory.EnumerateFiles($"/proc/{pid}/fd");
            foreach (var descriptor in descriptors)
            {
                string? target;
                try
                {
                    target = new FileInfo(descriptor).LinkTarget;
                }
                catch (IOException)
                {
                    continue; // closed between the listing and the read
                }
                // "socket:[12345]"
                if (target is { Length: > 9 } && target.StartsWith("socket:[", StringComparison.Ordinal) &&
                    inodes.Contains(target[8..^1]))
                    return true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process ended.
        }
        return false;
    }
}
