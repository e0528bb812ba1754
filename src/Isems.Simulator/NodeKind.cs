namespace Isems.Simulator;

/// <summary>The two kinds of ISEMS node: an OpenWrt router serving its whole log, or an ESP board serving its last lines.</summary>
public enum NodeKind { Router, Esp }

/// <summary>How a node misbehaves; applied to every request while set.</summary>
public enum NodeFault
{
    None,

    /// <summary>Reads the request, then never answers until the fault is cleared or the fleet is disposed.</summary>
    Hang,

    /// <summary>HTTP/1.1 500 with a short body.</summary>
    ServerError,

    /// <summary>Closes the connection with a TCP reset, without answering.</summary>
    Reset,

    /// <summary>Writes bytes that are not HTTP, then closes.</summary>
    GarbageResponse,

    /// <summary>HTTP/1.1 404, as if the log did not exist.</summary>
    NotFound,
}
