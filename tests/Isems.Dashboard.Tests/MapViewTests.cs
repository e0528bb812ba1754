namespace Isems.Dashboard.Tests;

/// <summary>Where the map puts nodes and tiles (the browser tests run offline, without a tile server).</summary>
public sealed class MapViewTests
{
    private static readonly MapNode[] Berlin =
    [
        new("Elektra-Dach", 52.507309, 13.458635, "up"),
        new("Kreuzberg", 52.4986, 13.4030, "down"),
    ];

    [Fact]
    public void Every_node_lies_inside_the_frame_and_west_is_left_north_is_up()
    {
        var view = new MapView(Berlin, tileTemplate: null);
        foreach (var (_, x, y) in view.Points)
        {
            Assert.InRange(x, 0, MapView.Width);
            Assert.InRange(y, 0, MapView.Height);
        }
        var elektra = view.Points.Single(p => p.Node.NodeId == "Elektra-Dach");
        var kreuzberg = view.Points.Single(p => p.Node.NodeId == "Kreuzberg");
        Assert.True(kreuzberg.X < elektra.X, "Kreuzberg lies west of the Elektra");
        Assert.True(elektra.Y < kreuzberg.Y, "the Elektra lies north of Kreuzberg");
        Assert.Empty(view.Tiles);
        Assert.Contains(view.Grid, line => line.Vertical);
        Assert.Contains(view.Grid, line => !line.Vertical);
    }

    [Fact]
    public void With_a_tile_url_the_tiles_under_the_frame_are_asked_for_and_no_grid_is_drawn()
    {
        var view = new MapView(Berlin, "http://tiles.mesh.local/{z}/{x}/{y}.png");
        Assert.Empty(view.Grid);
        Assert.NotEmpty(view.Tiles);
        // The tiles cover the whole frame.
        Assert.True(view.Tiles.Min(t => t.X) <= 0 && view.Tiles.Min(t => t.Y) <= 0);
        Assert.True(view.Tiles.Max(t => t.X) + 256 >= MapView.Width && view.Tiles.Max(t => t.Y) + 256 >= MapView.Height);
        // The Elektra's tile at this zoom is among them (slippy-map tile numbering).
        var n = Math.Pow(2, view.Zoom);
        var lat = 52.507309 * Math.PI / 180;
        var x = (int)((13.458635 + 180) / 360 * n);
        var y = (int)((1 - Math.Log(Math.Tan(lat) + 1 / Math.Cos(lat)) / Math.PI) / 2 * n);
        Assert.Contains(view.Tiles, t => t.Url == $"http://tiles.mesh.local/{view.Zoom}/{x}/{y}.png");
    }

    [Fact]
    public void A_single_node_gets_a_frame_of_its_own()
    {
        var view = new MapView([Berlin[0]], null);
        var (_, x, y) = Assert.Single(view.Points);
        Assert.Equal(MapView.Width / 2, x, 1);
        Assert.Equal(MapView.Height / 2, y, 1);
    }
}
