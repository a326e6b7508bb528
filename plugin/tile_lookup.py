"""Which tile is under a map click: tile footprints from an index, in a spatial index."""

from qgis.core import QgsGeometry, QgsPointXY, QgsRectangle, QgsSpatialIndex


class TileLookup:
    """Footprints of every tile of a similarity index, keyed by tile id.

    Built with OGR (no QgsVectorLayer) so it can be made in a worker thread: opening a 1M-tile
    index must not freeze QGIS.
    """

    def __init__(self, tiles_path, layer_name="tiles", is_canceled=None):
        from osgeo import ogr

        ds = ogr.Open(tiles_path)
        if ds is None:
            raise OSError(f"cannot open the tile layer {tiles_path}")
        layer = ds.GetLayerByName(layer_name) or ds.GetLayer(0)
        self.ids = []
        self.geometries = {}
        self.spatial = QgsSpatialIndex()
        for n, feature in enumerate(layer):
            if is_canceled is not None and n % 5000 == 0 and is_canceled():
                raise InterruptedError("canceled")
            tile_id = feature.GetField("tile_id")
            geom = QgsGeometry()
            geom.fromWkb(bytes(feature.GetGeometryRef().ExportToIsoWkb()))
            fid = len(self.ids)
            self.ids.append(tile_id)
            self.geometries[tile_id] = geom
            self.spatial.addFeature(fid, geom.boundingBox())
        ds = None

    def __len__(self):
        return len(self.ids)

    def tile_at(self, point):
        """Tile id whose footprint holds ``point`` (index CRS); with overlapping tiles, the one whose
        centre is nearest. None outside every tile."""
        rect = QgsRectangle(point.x(), point.y(), point.x(), point.y())
        best, best_d = None, None
        target = QgsGeometry.fromPointXY(QgsPointXY(point))
        for fid in self.spatial.intersects(rect):
            tile_id = self.ids[fid]
            geom = self.geometries[tile_id]
            if not geom.contains(target) and not geom.touches(target):
                continue
            d = geom.centroid().asPoint().sqrDist(point)
            if best_d is None or d < best_d:
                best, best_d = tile_id, d
        return best

    def extent(self):
        rect = QgsRectangle()
        rect.setNull()
        for geom in self.geometries.values():
            rect.combineExtentWith(geom.boundingBox())
        return rect
