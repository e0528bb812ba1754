using System.Globalization;

namespace Isems.Dashboard;

/// <summary>A node drawn on the map.</summary>
public sealed record MapNode(string NodeId, double Latitude, double Longitude, string? State);

/// <summary>
/// Where the map draws each node: Web Mercator pixels in an 800 × 480 frame fitted to the nodes, and, when a tile
/// URL is set, which tiles lie under that frame. Without tiles the same frame gets a grid of degrees, so positions
/// and distances read right on a mesh without internet.
/// </summary>
public sealed class MapView
{
    public const double Width = 800, Height = 480;
    private const double Margin = 40;

    public IReadOnlyList<(MapNode Node, double X, double Y)> Points { get; }
    public IReadOnlyList<(string Url, double X, double Y)> Tiles { get; }
    public IReadOnlyList<(double Position, string Label, bool Vertical)> Grid { get; }
    public int Zoom { get; }

    private readonly double _left, _top;

    public MapView(IReadOnlyList<MapNode> nodes, string? tileTemplate)
    {
        var minLat = nodes.Min(n => n.Latitude) - 0.002; var maxLat = nodes.Max(n => n.Latitude) + 0.002;
        var minLon = nodes.Min(n => n.Longitude) - 0.002; var maxLon = nodes.Max(n => n.Longitude) + 0.002;
        // The largest zoom at which the nodes fit inside the frame's margins.
        Zoom = 18;
        while (Zoom > 1)
        {
            var (x1, y1) = World(minLon, maxLat, Zoom);
            var (x2, y2) = World(maxLon, minLat, Zoom);
            if (x2 - x1 <= Width - 2 * Margin && y2 - y1 <= Height - 2 * Margin) break;
            Zoom--;
        }
        var (cx1, cy1) = World(minLon, maxLat, Zoom);
        var (cx2, cy2) = World(maxLon, minLat, Zoom);
        _left = (cx1 + cx2) / 2 - Width / 2;
        _top = (cy1 + cy2) / 2 - Height / 2;

        Points = nodes.Select(n => { var (x, y) = World(n.Longitude, n.Latitude, Zoom); return (n, x - _left, y - _top); }).ToList();
        Tiles = tileTemplate is null ? [] : TilesUnder(tileTemplate);
        Grid = tileTemplate is null ? GridLines() : [];
    }

    private static (double X, double Y) World(double lon, double lat, int zoom)
    {
        var size = 256 * Math.Pow(2, zoom);
        var sin = Math.Sin(Math.Clamp(lat, -85, 85) * Math.PI / 180);
        return ((lon + 180) / 360 * size, (0.5 - Math.Log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * size);
    }

    private (double Lon, double Lat) Geo(double x, double y)
    {
        var size = 256 * Math.Pow(2, Zoom);
        var lon = (x + _left) / size * 360 - 180;
        var n = Math.PI - 2 * Math.PI * (y + _top) / size;
        return (lon, 180 / Math.PI * Math.Atan(Math.Sinh(n)));
    }

    private List<(string, double, double)> TilesUnder(string template)
    {
        var tiles = new List<(string, double, double)>();
        var count = 1 << Zoom;
        for (var tx = (int)Math.Floor(_left / 256); tx * 256 < _left + Width; tx++)
        for (var ty = (int)Math.Floor(_top / 256); ty * 256 < _top + Height; ty++)
        {
            if (ty < 0 || ty >= count) continue;
            var wrapped = ((tx % count) + count) % count;
            var url = template.Replace("{z}", Zoom.ToString(CultureInfo.InvariantCulture))
                .Replace("{x}", wrapped.ToString(CultureInfo.InvariantCulture)).Replace("{y}", ty.ToString(CultureInfo.InvariantCulture));
            tiles.Add((url, tx * 256 - _left, ty * 256 - _top));
        }
        return tiles;
    }

    private List<(double, string, bool)> GridLines()
    {
        var (west, north) = Geo(0, 0);
        var (east, south) = Geo(Width, Height);
        var step = new[] { 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 45 }
            .FirstOrDefault(s => (east - west) / s <= 8, 90);
        var lines = new List<(double, string, bool)>();
        var decimals = Math.Max(0, (int)Math.Ceiling(-Math.Log10(step)));
        for (var lon = Math.Ceiling(west / step) * step; lon < east; lon += step)
            lines.Add((World(lon, 0, Zoom).X - _left, lon.ToString("F" + decimals, CultureInfo.InvariantCulture) + "°", true));
        for (var lat = Math.Ceiling(south / step) * step; lat < north; lat += step)
            lines.Add((World(0, lat, Zoom).Y - _top, lat.ToString("F" + decimals, CultureInfo.InvariantCulture) + "°", false));
        return lines;
    }
}
