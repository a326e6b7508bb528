"""tile_embeddings:rgbstretch: percentile stretch to 8-bit RGB images that stay georeferenced."""

from qgis.core import (
    Qgis,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.rgb_export import FORMATS, SCOPES, stretch_raster, stretch_tiles, tile_records_from_folder
from .base import TileEmbeddingsAlgorithm
from .tile_sets import GROUP, GROUP_ID, raster_path, records_from_source

FORMAT_KEYS = list(FORMATS)  # JPEG, PNG, GTiff


class RgbStretchAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "rgbstretch"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Stretch to 8-bit RGB")
    GROUP = GROUP
    GROUP_ID = GROUP_ID

    INPUT = "INPUT"
    TILE_INDEX = "TILE_INDEX"
    INPUT_FOLDER = "INPUT_FOLDER"
    BANDS = "BANDS"
    LOWER = "LOWER"
    UPPER = "UPPER"
    SCOPE = "SCOPE"
    FORMAT = "FORMAT"
    NODATA = "NODATA"
    QUALITY = "QUALITY"
    THREADS = "THREADS"
    WORLD_FILE = "WORLD_FILE"
    OUTPUT = "OUTPUT"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    OUTPUT_INDEX = "OUTPUT_INDEX"

    def initAlgorithm(self, config=None):
        double = Qgis.ProcessingNumberParameterType.Double
        integer = Qgis.ProcessingNumberParameterType.Integer
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.INPUT, self.tr("Input raster (or leave empty and give a tile set)"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.TILE_INDEX,
                self.tr("Tile index (a tile set)"),
                [Qgis.ProcessingSourceType.VectorPolygon],
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.INPUT_FOLDER,
                self.tr("Folder of tiles (a tile set)"),
                behavior=Qgis.ProcessingFileParameterBehavior.Folder,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.BANDS, self.tr("Band order: red, green, blue band numbers (one band = grey)"), "1,2,3"
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.LOWER,
                self.tr("Lower percentile (becomes black)"),
                double,
                0.5,
                minValue=0.0,
                maxValue=100.0,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.UPPER,
                self.tr("Upper percentile (becomes white)"),
                double,
                99.5,
                minValue=0.0,
                maxValue=100.0,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.SCOPE,
                self.tr("Statistics from"),
                [
                    self.tr("The whole raster or tile set (global)"),
                    self.tr("Each tile on its own (per tile)"),
                ],
                defaultValue=0,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.FORMAT, self.tr("Tile format (tile sets)"), ["JPEG", "PNG", "GeoTIFF"], defaultValue=0
            )
        )
        nodata = QgsProcessingParameterNumber(
            self.NODATA, self.tr("Nodata value (overrides the raster's)"), double, None, optional=True
        )
        quality = QgsProcessingParameterNumber(
            self.QUALITY, self.tr("JPEG quality"), integer, 90, minValue=1, maxValue=100
        )
        threads = QgsProcessingParameterNumber(
            self.THREADS, self.tr("Threads (0 = one per CPU core, at most 8)"), integer, 0, minValue=0
        )
        world_file = QgsProcessingParameterBoolean(
            self.WORLD_FILE,
            self.tr("Also write a world file (.wld) for software other than GDAL/QGIS"),
            False,
        )
        for p in (nodata, quality, threads, world_file):
            p.setFlags(p.flags() | Qgis.ProcessingParameterFlag.Advanced)
            self.addParameter(p)
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                self.OUTPUT,
                self.tr("Stretched image (raster input; .jpg, .png or .tif)"),
                optional=True,
                createByDefault=False,
            )
        )
        self.addParameter(
            QgsProcessingParameterFolderDestination(
                self.OUTPUT_FOLDER, self.tr("Stretched tiles folder (tile-set input)"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                self.OUTPUT_INDEX,
                self.tr("Tile index of the stretched tiles"),
                Qgis.ProcessingSourceType.VectorPolygon,
                optional=True,
            )
        )

    def processAlgorithm(self, parameters, context, feedback):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        source = self.parameterAsSource(parameters, self.TILE_INDEX, context)
        folder = self.parameterAsFile(parameters, self.INPUT_FOLDER, context)
        given = [x for x in (layer, source, folder or None) if x is not None]
        if len(given) != 1:
            raise QgsProcessingException(
                self.tr(
                    "Give exactly one input: a raster ({}), a tile index ({}) or a folder of tiles ({})."
                ).format(
                    self.describe_parameter(self.INPUT),
                    self.describe_parameter(self.TILE_INDEX),
                    self.describe_parameter(self.INPUT_FOLDER),
                )
            )
        bands = self.parameterAsString(parameters, self.BANDS, context)
        lower = self.parameterAsDouble(parameters, self.LOWER, context)
        upper = self.parameterAsDouble(parameters, self.UPPER, context)
        nodata = parameters.get(self.NODATA)
        nodata = (
            self.parameterAsDouble(parameters, self.NODATA, context) if nodata not in (None, "") else None
        )
        quality = self.parameterAsInt(parameters, self.QUALITY, context)
        world_file = self.parameterAsBool(parameters, self.WORLD_FILE, context)
        progress = self.progress(feedback)

        if layer is not None:
            out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
            if not out:
                raise QgsProcessingException(
                    self.tr("{}: choose where to save the stretched image.").format(
                        self.describe_parameter(self.OUTPUT)
                    )
                )
            result = self.run_core(
                stretch_raster,
                raster_path(layer, self.describe_parameter(self.INPUT)),
                out,
                bands,
                lower,
                upper,
                nodata=nodata,
                quality=quality,
                progress=progress,
                world_file=world_file,
            )
            self._report_cuts(feedback, result["cuts"])
            return {self.OUTPUT: out}

        if source is not None:
            records = records_from_source(source, self.describe_parameter(self.TILE_INDEX), feedback)
        else:
            records = self.run_core(tile_records_from_folder, folder)
        out_folder = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context)
        if not out_folder:
            raise QgsProcessingException(
                self.tr("{}: choose a folder for the stretched tiles.").format(
                    self.describe_parameter(self.OUTPUT_FOLDER)
                )
            )
        index = self.parameterAsOutputLayer(parameters, self.OUTPUT_INDEX, context) or None
        result = self.run_core(
            stretch_tiles,
            records,
            out_folder,
            bands,
            lower,
            upper,
            scope=SCOPES[self.parameterAsEnum(parameters, self.SCOPE, context)],
            fmt=FORMAT_KEYS[self.parameterAsEnum(parameters, self.FORMAT, context)],
            nodata=nodata,
            quality=quality,
            index_path=index,
            threads=self.parameterAsInt(parameters, self.THREADS, context) or None,
            progress=progress,
            world_file=world_file,
        )
        if result["cuts"] is not None:
            self._report_cuts(feedback, result["cuts"])
        feedback.pushInfo(self.tr("{} tiles stretched").format(len(result["tiles"])))
        results = {self.OUTPUT_FOLDER: out_folder}
        if index:
            results[self.OUTPUT_INDEX] = index
        return results

    def _report_cuts(self, feedback, cuts):
        text = ", ".join(f"[{lo:g}, {hi:g}]" for lo, hi in cuts)
        feedback.pushInfo(self.tr("Cut values (low, high) per output band: {}").format(text))
