<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1">
  <context>
    <name>AppendToIndexAlgorithm</name>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="60" />
      <source>Similarity index (folder from 'Embed tiles')</source>
      <translation>相似性索引（“嵌入瓦片”生成的文件夹）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="66" />
      <source>Rasters to add (tiled and embedded with the index's settings)</source>
      <translation>要添加的栅格（按索引的设置切分瓦片并计算嵌入）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="72" />
      <source>Batch size</source>
      <translation>批大小</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="76" />
      <source>Device</source>
      <translation>设备</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="77" />
      <source>Auto (CUDA when the runtime has it, else the CPU)</source>
      <translation>自动（运行时支持 CUDA 时用 GPU，否则用 CPU）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="82" />
      <source>Runtime (auto: onnxruntime when installed, else torch)</source>
      <translation>运行时（自动：已安装 onnxruntime 时用它，否则用 torch）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="88" />
      <source>Resume an interrupted run with the same rasters</source>
      <translation>以相同的栅格继续被中断的运行</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="94" />
      <source>Similarity index</source>
      <translation>相似性索引</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="96" />
      <source>Index tiles</source>
      <translation>索引瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="98" />
      <source>Tiles in the index</source>
      <translation>索引中的瓦片数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="99" />
      <source>Tiles added</source>
      <translation>新增瓦片数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="115" />
      <source>{}: give at least one raster to add.</source>
      <translation>{}：请至少提供一个要添加的栅格。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="129" />
      <source>{} tiles added, {} in the index</source>
      <translation>已添加 {} 个瓦片，索引中共 {} 个</translation>
    </message>
  </context>
  <context>
    <name>BboxMaskAlgorithm</name>
    <message>
      <location filename="../../processing_provider/bbox_mask.py" line="32" />
      <source>Input raster</source>
      <translation>输入栅格</translation>
    </message>
    <message>
      <location filename="../../processing_provider/bbox_mask.py" line="35" />
      <source>Study area</source>
      <translation>研究区</translation>
    </message>
    <message>
      <location filename="../../processing_provider/bbox_mask.py" line="40" />
      <source>Buffer around the study-area extent</source>
      <translation>研究区范围的缓冲距离</translation>
    </message>
    <message>
      <location filename="../../processing_provider/bbox_mask.py" line="43" />
      <source>Clipped raster</source>
      <translation>裁剪后的栅格</translation>
    </message>
    <message>
      <location filename="../../processing_provider/bbox_mask.py" line="51" />
      <source>{}: no layer given</source>
      <translation>{}：未提供图层</translation>
    </message>
    <message>
      <location filename="../../processing_provider/bbox_mask.py" line="61" />
      <source>{}: the layer has no geometry to take an extent from</source>
      <translation>{}：该图层没有可用于确定范围的几何</translation>
    </message>
    <message>
      <location filename="../../processing_provider/bbox_mask.py" line="77" />
      <source>Clipped window: {} x {} px at pixel ({}, {})</source>
      <translation>裁剪窗口：{} x {} 像素，起点像素 ({}, {})</translation>
    </message>
  </context>
  <context>
    <name>CentroidLayerAlgorithm</name>
    <message>
      <location filename="../../processing_provider/centroid_layer.py" line="33" />
      <source>Tile index (or leave empty and give a folder)</source>
      <translation>瓦片索引（或留空并提供文件夹）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/centroid_layer.py" line="41" />
      <source>Folder of georeferenced tiles (instead of a tile index)</source>
      <translation>带地理参考的瓦片文件夹（代替瓦片索引）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/centroid_layer.py" line="48" />
      <source>Tile centroids</source>
      <translation>瓦片中心点</translation>
    </message>
    <message>
      <location filename="../../processing_provider/centroid_layer.py" line="54" />
      <source>Centroid table (CSV)</source>
      <translation>中心点表（CSV）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/centroid_layer.py" line="55" />
      <source>CSV files (*.csv)</source>
      <translation>CSV 文件 (*.csv)</translation>
    </message>
    <message>
      <location filename="../../processing_provider/centroid_layer.py" line="66" />
      <source>Give either a tile index ({}) or a folder of tiles ({}), not both and not neither.</source>
      <translation>请提供瓦片索引（{}）或瓦片文件夹（{}）二者之一，不能都提供，也不能都不提供。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/centroid_layer.py" line="82" />
      <source>Skipped (no georeferencing): {}</source>
      <translation>已跳过（无地理参考）：{}</translation>
    </message>
    <message>
      <location filename="../../processing_provider/centroid_layer.py" line="86" />
      <source>{} tile centres written</source>
      <translation>已写入 {} 个瓦片中心点</translation>
    </message>
  </context>
  <context>
    <name>ClassifyTilesAlgorithm</name>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="60" />
      <source>Similarity index (folder from 'Embed tiles')</source>
      <translation>相似性索引（“嵌入瓦片”生成的文件夹）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="63" />
      <source>Labelled places (points or polygons)</source>
      <translation>已标注的地点（点或面）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="66" />
      <source>Label field</source>
      <translation>标签字段</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="68" />
      <source>Positive class (when the labels are class names)</source>
      <translation>正类（标签为类别名称时）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="70" />
      <source>…or positive tile ids (comma-separated)</source>
      <translation>…或正例瓦片 ID（以逗号分隔）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="72" />
      <source>Negative tile ids (comma-separated)</source>
      <translation>负例瓦片 ID（以逗号分隔）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="74" />
      <source>…or apply a saved classifier instead of training</source>
      <translation>…或应用已保存的分类器而不训练</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="77" />
      <source>Detection threshold (probability)</source>
      <translation>检测阈值（概率）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="80" />
      <source>Background tiles used as negatives when none are labelled</source>
      <translation>未标注负例时用作负例的背景瓦片数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="86" />
      <source>Include constant tiles (every valid pixel the same value: fill, blank) in the results</source>
      <translation>结果中包含常值瓦片（所有有效像素值相同：填充、空白）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="91" />
      <source>Probability of every tile</source>
      <translation>每个瓦片的概率</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="93" />
      <source>Detections</source>
      <translation>检测结果</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="95" />
      <source>Probability raster (one cell per tile)</source>
      <translation>概率栅格（每个瓦片一个像元）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="98" />
      <source>Trained classifier (default: beside the index)</source>
      <translation>训练好的分类器（默认：保存在索引旁）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="99" />
      <source>Tile Embeddings classifier (*.json)</source>
      <translation>Tile Embeddings 分类器 (*.json)</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="100" />
      <source>Number of detections</source>
      <translation>检测结果数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="101" />
      <source>Number of tiles detected</source>
      <translation>检出的瓦片数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="107" />
      <source>Needs the Python package scikit-learn ({}).</source>
      <translation>需要 Python 包 scikit-learn（{}）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="116" />
      <source>{}: choose the field that holds the labels.</source>
      <translation>{}：请选择存放标签的字段。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="120" />
      <source>{}: the layer has no field '{}' (fields: {}).</source>
      <translation>{}：该图层没有字段“{}”（现有字段：{}）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="125" />
      <source>{}: the layer or the index has no CRS, so the places cannot be put on the tiles; set the layer's CRS, or give tile ids instead.</source>
      <translation>{}：图层或索引没有坐标参考系，无法将地点对应到瓦片上；请设置图层的坐标参考系，或改为提供瓦片 ID。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="132" />
      <source>Canceled: no output was written.</source>
      <translation>已取消：未写入任何输出。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="141" />
      <source>{}: cannot transform the places from {} to the index CRS {} ({}); reproject the layer.</source>
      <translation>{}：无法将地点从 {} 转换到索引的坐标参考系 {}（{}）；请对图层重投影。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="147" />
      <source>{}: the layer has no features with a geometry.</source>
      <translation>{}：该图层没有带几何的要素。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="185" />
      <source>{} labelled places fall outside the index's tiles and were ignored.</source>
      <translation>{} 个已标注地点位于索引瓦片之外，已忽略。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="188" />
      <source>{} constant tiles (fill, blank) were left out: no probability, never detected ({} keeps them).</source>
      <translation>已排除 {} 个常值瓦片（填充、空白）：没有概率，也不会被检测出（{} 可保留它们）。</translation>
    </message>
  </context>
  <context>
    <name>EmbedTilesAlgorithm</name>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="130" />
      <source>Raster to tile on the fly (fast path, no tile files)</source>
      <translation>即时切分瓦片的栅格（快速路径，不写瓦片文件）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="135" />
      <source>Tile size (pixels, with a raster)</source>
      <translation>瓦片大小（像素，输入为栅格时）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="141" />
      <source>…or a tile index from 'Split raster into tiles'</source>
      <translation>…或“将栅格分割为瓦片”生成的瓦片索引</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="149" />
      <source>…or several rasters, in any CRSs, in one index (tiled on the fly)</source>
      <translation>…或多个栅格（任意坐标参考系）合入一个索引（即时切分瓦片）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="158" />
      <source>Model (ImageNet weights are downloaded once into torchvision's cache)</source>
      <translation>模型（ImageNet 权重只下载一次，存入 torchvision 缓存）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="167" />
      <source>Weights file (empty: the model's ImageNet weights; or a state dict for the model, or a TorchScript or ONNX encoder, which replaces the model)</source>
      <translation>权重文件（留空：模型的 ImageNet 权重；或模型的 state dict，或替代该模型的 TorchScript / ONNX 编码器）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="172" />
      <source>Weights and models (*.pth *.pt *.pth.tar *.ckpt *.onnx);;All files (*)</source>
      <translation>权重和模型 (*.pth *.pt *.pth.tar *.ckpt *.onnx);;所有文件 (*)</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="178" />
      <source>Model input size (pixels)</source>
      <translation>模型输入尺寸（像素）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="187" />
      <source>Band order (R,G,B band numbers, or one band for grey)</source>
      <translation>波段顺序（R,G,B 波段号，或单个波段生成灰度）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="193" />
      <source>Stretch to 8-bit</source>
      <translation>拉伸到 8 位</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="195" />
      <source>Global percentiles (same colours for every tile)</source>
      <translation>全局百分位数（所有瓦片颜色一致）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="196" />
      <source>Per-tile percentiles</source>
      <translation>逐瓦片百分位数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="197" />
      <source>None (input is already 8-bit RGB)</source>
      <translation>不拉伸（输入已是 8 位 RGB）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="205" />
      <source>Rotation invariant (average over the 8 rotations/flips; 8x slower)</source>
      <translation>旋转不变（对 8 种旋转/翻转取平均；慢 8 倍）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="213" />
      <source>Features (auto: mid+final, the mid block and the final layer pooled; final: the final layer only; mid: the mid block only, cheaper; a TorchScript or ONNX file: final)</source>
      <translation>特征（自动：中间+最终，对中间块和最终层分别池化；最终：仅最终层；中间：仅中间块，开销更小；TorchScript 或 ONNX 文件：最终层）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="224" />
      <source>Tile overlap (pixels, with a raster)</source>
      <translation>瓦片重叠（像素，输入为栅格时）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="228" />
      <source>Partial edge tiles (with a raster)</source>
      <translation>边缘不完整瓦片（输入为栅格时）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="229" />
      <source>Drop</source>
      <translation>丢弃</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="229" />
      <source>Pad with nodata</source>
      <translation>用无数据值填充</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="229" />
      <source>Keep partial</source>
      <translation>保留不完整瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="233" />
      <source>Lower percentile</source>
      <translation>下百分位数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="236" />
      <source>Upper percentile</source>
      <translation>上百分位数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="241" />
      <source>Rotation views (default: as the box above; rot2: the tile and its 90° turn, 2x slower, finds tiles turned by 90°; rot8: the 8 rotations/flips, 8x)</source>
      <translation>旋转视图（default：与上方复选框一致；rot2：瓦片及其旋转 90° 的副本，慢 2 倍，可找到旋转了 90° 的瓦片；rot8：8 种旋转/翻转，慢 8 倍）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="251" />
      <source>Minimum share of valid (not nodata) pixels to embed a tile (0: skip only tiles with none)</source>
      <translation>计算瓦片嵌入所需的有效（非无数据）像素最小比例（0：只跳过完全无有效像素的瓦片）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="257" />
      <source>Batch size</source>
      <translation>批大小</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="260" />
      <source>Device</source>
      <translation>设备</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="261" />
      <source>Auto (CUDA when the runtime has it, else the CPU)</source>
      <translation>自动（运行时支持 CUDA 时用 GPU，否则用 CPU）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="267" />
      <source>Runtime (auto: onnxruntime when installed, else torch)</source>
      <translation>运行时（自动：已安装 onnxruntime 时用它，否则用 torch）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="273" />
      <source>Resume an interrupted run with the same settings</source>
      <translation>以相同设置继续被中断的运行</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="276" />
      <source>CRS of the tile footprints (empty: the first raster's)</source>
      <translation>瓦片范围面的坐标参考系（留空：使用第一个栅格的）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="281" />
      <source>Dask scheduler address (e.g. tcp://10.0.0.5:8786; empty: this computer)</source>
      <translation>Dask 调度器地址（如 tcp://10.0.0.5:8786；留空：本机）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="291" />
      <source>Similarity index (folder, e.g. scene.teindex)</source>
      <translation>相似性索引（文件夹，如 scene.teindex）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="297" />
      <source>Also export embeddings as .npy (+ _ids.txt)</source>
      <translation>同时将嵌入导出为 .npy（及 _ids.txt）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="298" />
      <source>NumPy array (*.npy)</source>
      <translation>NumPy 数组 (*.npy)</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="305" />
      <source>Index tiles</source>
      <translation>索引瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="308" />
      <source>Number of tiles embedded</source>
      <translation>已计算嵌入的瓦片数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="309" />
      <source>Embedding dimensions</source>
      <translation>嵌入维数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="317" />
      <source>{}: unknown model {!r}. Choose one of {}, or give a TorchScript or ONNX encoder as {}.</source>
      <translation>{}：未知模型 {!r}。请从 {} 中选择，或以 {} 提供 TorchScript 或 ONNX 编码器。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="335" />
      <source>{} is ticked but {} is {}: untick the first, or set the second to rot8.</source>
      <translation>已勾选 {}，但 {} 为 {}：请取消勾选前者，或将后者设为 rot8。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="354" />
      <source>{}: give rasters or a tile index, not both.</source>
      <translation>{}：请提供栅格或瓦片索引，不能同时提供。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="375" />
      <source>Give either a raster or a tile index, not both.</source>
      <translation>请提供栅格或瓦片索引之一，不能同时提供。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="377" />
      <source>Give a raster (tiled on the fly) or a tile index layer.</source>
      <translation>请提供栅格（即时切分瓦片）或瓦片索引图层。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="414" />
      <source>{} tiles, {} dimensions, model {} ({}), {} on {}, {:.1f} s</source>
      <translation>{} 个瓦片，{} 维，模型 {}（{}），{} 运行于 {}，{:.1f} 秒</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="420" />
      <source>{} tiles skipped (valid pixels: none, or a share below {}); {} constant tiles flagged (search leaves them out of results)</source>
      <translation>跳过 {} 个瓦片（无有效像素，或有效比例低于 {}）；标记 {} 个常值瓦片（搜索结果中不包含它们）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="428" />
      <source>Index tiles (temporary)</source>
      <translation>索引瓦片（临时）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="428" />
      <source>{} tiles</source>
      <translation>{} 瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="436" />
      <source>The index is in a temporary folder ({}) that is deleted when QGIS exits. To keep it, copy that folder elsewhere now, or run again with a folder of your own as {}.</source>
      <translation>索引位于临时文件夹（{}）中，QGIS 退出时会被删除。如需保留，请立即将该文件夹复制到别处，或以自己的文件夹作为 {} 重新运行。</translation>
    </message>
  </context>
  <context>
    <name>ExportOnnxAlgorithm</name>
    <message>
      <location filename="../../processing_provider/export_onnx.py" line="38" />
      <source>Model</source>
      <translation>模型</translation>
    </message>
    <message>
      <location filename="../../processing_provider/export_onnx.py" line="47" />
      <source>Weights file (empty: the model's ImageNet weights; or a state dict or TorchScript file)</source>
      <translation>权重文件（留空：模型的 ImageNet 权重；或 state dict 或 TorchScript 文件）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/export_onnx.py" line="49" />
      <source>PyTorch (*.pth *.pt *.pth.tar *.ckpt);;All files (*)</source>
      <translation>PyTorch (*.pth *.pt *.pth.tar *.ckpt);;所有文件 (*)</translation>
    </message>
    <message>
      <location filename="../../processing_provider/export_onnx.py" line="56" />
      <source>Features (as 'Embed tiles' computes them; auto: mid+final, final for a TorchScript file)</source>
      <translation>特征（与“嵌入瓦片”的计算方式相同；自动：中间+最终，TorchScript 文件为最终层）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/export_onnx.py" line="64" />
      <source>Check the export on tiles of this raster</source>
      <translation>用此栅格的瓦片检验导出结果</translation>
    </message>
    <message>
      <location filename="../../processing_provider/export_onnx.py" line="67" />
      <source>Band order of that raster</source>
      <translation>该栅格的波段顺序</translation>
    </message>
    <message>
      <location filename="../../processing_provider/export_onnx.py" line="73" />
      <source>ONNX file (empty: beside torchvision's weights, where 'Embed tiles' finds it)</source>
      <translation>ONNX 文件（留空：保存在 torchvision 权重旁，“嵌入瓦片”会在那里找到它）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/export_onnx.py" line="80" />
      <source>Lowest cosine, onnxruntime vs torch, on the tiles</source>
      <translation>瓦片上 onnxruntime 与 torch 结果的最低余弦相似度</translation>
    </message>
    <message>
      <location filename="../../processing_provider/export_onnx.py" line="86" />
      <source>Exporting needs the Python package(s) {} ({}).</source>
      <translation>导出需要 Python 包 {}（{}）。</translation>
    </message>
  </context>
  <context>
    <name>FindAll</name>
    <message>
      <location filename="../../plugin/find_all.py" line="189" />
      <source>Choose a similarity index first.</source>
      <translation>请先选择相似性索引。</translation>
    </message>
    <message>
      <location filename="../../plugin/find_all.py" line="190" />
      <source>Find all: label at least one tile yes (click it) to train.</source>
      <translation>查找全部：请至少将一个瓦片标为“是”（单击它）才能训练。</translation>
    </message>
    <message>
      <location filename="../../plugin/find_all.py" line="218" />
      <source>Find all failed: {}</source>
      <translation>查找全部失败：{}</translation>
    </message>
    <message>
      <location filename="../../plugin/find_all.py" line="233" />
      <source>estimating quality…</source>
      <translation>正在估计质量…</translation>
    </message>
    <message>
      <location filename="../../plugin/find_all.py" line="285" />
      <source>no labels to save: click tiles first</source>
      <translation>没有可保存的标签：请先单击瓦片</translation>
    </message>
    <message>
      <location filename="../../plugin/find_all.py" line="309" />
      <source>choose a similarity index first</source>
      <translation>请先选择相似性索引</translation>
    </message>
    <message>
      <location filename="../../plugin/find_all.py" line="314" />
      <source>{} has no layer with a 'label' field</source>
      <translation>{} 中没有带“label”字段的图层</translation>
    </message>
  </context>
  <context>
    <name>FindAllTask</name>
    <message>
      <location filename="../../plugin/find_all.py" line="35" />
      <source>Tile Embeddings: find all</source>
      <translation>Tile Embeddings：查找全部</translation>
    </message>
  </context>
  <context>
    <name>Help</name>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="13" />
      <source>Clips a raster to the bounding box of a study-area layer, keeping the source pixels as they are.</source>
      <translation>将栅格裁剪到研究区图层的边界框，源像素保持不变。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="14" />
      <source>Cuts a raster into square GeoTIFF tiles and writes a tile index layer for the other algorithms.</source>
      <translation>将栅格切分为方形 GeoTIFF 瓦片，并为其他算法写出瓦片索引图层。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="15" />
      <source>Makes a point layer (and an optional CSV table) of tile centres from a tile index or a folder of tiles.</source>
      <translation>由瓦片索引或瓦片文件夹生成瓦片中心点图层（以及可选的 CSV 表）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="17" />
      <source>Stretches a raster or a tile set to 8-bit RGB images between two percentiles.</source>
      <translation>在两个百分位数之间将栅格或瓦片集拉伸为 8 位 RGB 图像。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="18" />
      <source>Describes every tile with a CNN embedding and stores them in a similarity index folder.</source>
      <translation>用 CNN 嵌入描述每个瓦片，并存入相似性索引文件夹。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="19" />
      <source>Adds the tiles of more rasters to a similarity index, embedding only the new tiles.</source>
      <translation>向相似性索引添加更多栅格的瓦片，只为新瓦片计算嵌入。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="20" />
      <source>Removes the tiles of one raster from a similarity index, keeping the other embeddings.</source>
      <translation>从相似性索引中移除某个栅格的瓦片，保留其他嵌入。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="21" />
      <source>Exports a model once to an ONNX file that onnxruntime runs, also on computers without torch.</source>
      <translation>将模型一次性导出为 ONNX 文件，供 onnxruntime 运行，没有 torch 的计算机也能用。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="22" />
      <source>Finds the tiles of a similarity index that look most like example tiles, places or an image.</source>
      <translation>在相似性索引中查找与示例瓦片、地点或图像最相似的瓦片。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="24" />
      <source>Finds every tile of a kind in a similarity index from a few labelled examples, with a classifier trained on their embeddings.</source>
      <translation>根据少量标注样例，用基于其嵌入训练的分类器，在相似性索引中找出某一类的全部瓦片。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="26" />
      <source>Segments a raster into regions of similar colour (Shepherd k-means and elimination), tiled across CPU cores without seams.</source>
      <translation>将栅格分割为颜色相近的区域（Shepherd K 均值与消除法），在多个 CPU 核心上分块处理且无接缝。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="30" />
      <source>Tiles processed in parallel; 0 uses one thread per CPU core, at most 8.</source>
      <translation>并行处理的瓦片数；0 表示每个 CPU 核心一个线程，最多 8 个。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="34" />
      <source>The similarity index to grow, from 'Embed tiles' (rasters tiled on the fly). It keeps its model, features, preprocessing and tile size; the new tiles are embedded with them.</source>
      <translation>要扩充的相似性索引，由“嵌入瓦片”生成（栅格即时切分瓦片）。索引保持其模型、特征、预处理和瓦片大小；新瓦片按这些设置计算嵌入。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="36" />
      <source>The rasters to add, in any CRSs; their footprints go to the index's CRS. A raster already in the index is refused: remove it first to embed it again.</source>
      <translation>要添加的栅格，坐标参考系不限；其瓦片范围会转换到索引的坐标参考系。已在索引中的栅格会被拒绝：如需重新计算嵌入，请先将其移除。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="131" />
      <location filename="../../processing_provider/help_texts.py" line="38" />
      <source>Tiles sent to the model at once; lower it if memory runs out.</source>
      <translation>一次送入模型的瓦片数；内存不足时请调低。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="39" />
      <source>Auto uses a CUDA GPU when the runtime has one, otherwise the CPU cores QGIS may use.</source>
      <translation>自动：运行时支持时使用 CUDA GPU，否则使用 QGIS 可用的 CPU 核心。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="40" />
      <source>What runs the model: onnxruntime or torch. Both give the same embeddings.</source>
      <translation>运行模型的方式：onnxruntime 或 torch。两者得到的嵌入相同。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="41" />
      <source>Continue an interrupted or canceled addition from its last finished batch. Until the addition finishes, the index stays exactly as it was.</source>
      <translation>从最后完成的批次继续被中断或取消的添加。添加完成之前，索引保持原样不变。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="45" />
      <source>The similarity index to shrink, from 'Embed tiles'.</source>
      <translation>要缩减的相似性索引，由“嵌入瓦片”生成。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="46" />
      <source>The raster whose tiles are removed: its path, its file name, or the id prefix of its tiles (the part of the tile ids before _r&lt;row&gt;_c&lt;col&gt;).</source>
      <translation>要移除其瓦片的栅格：其路径、文件名或其瓦片的 ID 前缀（瓦片 ID 中 _r&lt;row&gt;_c&lt;col&gt; 之前的部分）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="50" />
      <source>The raster to clip. It needs a CRS.</source>
      <translation>要裁剪的栅格，必须有坐标参考系。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="51" />
      <source>Any vector layer, in any CRS: the bounding box of its features (or of the selected ones) is the area kept.</source>
      <translation>任意坐标参考系的任意矢量图层：保留其要素（或所选要素）边界框内的区域。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="53" />
      <source>Grows the area on every side by this distance, in the raster CRS's units; a negative value shrinks it.</source>
      <translation>按此距离向四周扩大区域，单位为栅格坐标参考系的单位；负值则缩小。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="55" />
      <source>A tiled, compressed GeoTIFF on the source pixel grid (no resampling).</source>
      <translation>分块、压缩的 GeoTIFF，与源像素格网一致（不重采样）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="58" />
      <source>The raster to cut into tiles.</source>
      <translation>要切分为瓦片的栅格。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="59" />
      <source>Width and height of each tile, in pixels.</source>
      <translation>每个瓦片的宽度和高度，单位为像素。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="60" />
      <source>Pixels shared by neighbouring tiles: tiles start every tile size minus overlap pixels.</source>
      <translation>相邻瓦片共享的像素数：每隔“瓦片大小减重叠”像素开始一个新瓦片。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="61" />
      <source>What to do with the tiles at the right and bottom edges that are smaller than the tile size.</source>
      <translation>如何处理右边缘和下边缘小于瓦片大小的瓦片。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="62" />
      <source>Tiles with a smaller share of valid (not nodata) pixels are not written; 0 keeps every tile.</source>
      <translation>有效（非无数据）像素比例低于此值的瓦片不写出；0 表示保留所有瓦片。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="64" />
      <source>Tile names start with this prefix, as in prefix_r2_c5 (row 2, column 5); when empty, the raster's file name is the prefix.</source>
      <translation>瓦片名称以此前缀开头，如 prefix_r2_c5（第 2 行第 5 列）；留空时以栅格文件名为前缀。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="66" />
      <source>Compression of the tile GeoTIFFs.</source>
      <translation>瓦片 GeoTIFF 的压缩方式。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="68" />
      <source>The folder that receives the tile GeoTIFFs.</source>
      <translation>存放瓦片 GeoTIFF 的文件夹。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="69" />
      <source>A polygon layer with the footprint of each tile and its tile_id, row, col, path, valid_fraction and centre.</source>
      <translation>面图层，包含每个瓦片的范围及其 tile_id、row、col、path、valid_fraction 和中心点。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="73" />
      <source>A tile index from 'Split raster into tiles' or 'Stretch to 8-bit RGB'; leave it empty to read a folder of tiles instead.</source>
      <translation>“将栅格分割为瓦片”或“拉伸为 8 位 RGB”生成的瓦片索引；留空则改为读取瓦片文件夹。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="75" />
      <source>A folder of georeferenced tiles (GeoTIFF, or JPEG/PNG with a world file or .aux.xml), used when no tile index is given.</source>
      <translation>带地理参考的瓦片文件夹（GeoTIFF，或带世界文件或 .aux.xml 的 JPEG/PNG），未提供瓦片索引时使用。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="77" />
      <source>One point per tile at its centre, with the fields rs_stem, centralx and centraly.</source>
      <translation>每个瓦片在其中心处一个点，带字段 rs_stem、centralx 和 centraly。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="78" />
      <source>The same columns as a CSV table (UTF-8), if you need one.</source>
      <translation>如有需要，以 CSV 表（UTF-8）输出相同的列。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="81" />
      <source>A single raster to stretch to one 8-bit image; leave it empty to stretch a tile set.</source>
      <translation>拉伸为一幅 8 位图像的单个栅格；留空则拉伸瓦片集。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="82" />
      <source>A tile set, given by its tile index layer.</source>
      <translation>以瓦片索引图层给出的瓦片集。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="83" />
      <source>A tile set, given as a folder of raster tiles.</source>
      <translation>以栅格瓦片文件夹给出的瓦片集。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="109" />
      <location filename="../../processing_provider/help_texts.py" line="84" />
      <source>Band numbers for red, green and blue, for example 3,2,1; a single number gives a grey image.</source>
      <translation>红、绿、蓝对应的波段号，例如 3,2,1；只给一个波段号则生成灰度图像。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="129" />
      <location filename="../../processing_provider/help_texts.py" line="85" />
      <source>Values at or below this percentile become black.</source>
      <translation>不高于此百分位数的值变为黑色。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="130" />
      <location filename="../../processing_provider/help_texts.py" line="86" />
      <source>Values at or above this percentile become white.</source>
      <translation>不低于此百分位数的值变为白色。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="87" />
      <source>Global: one set of cut values for the whole raster or tile set, so neighbouring tiles get the same colours. Per tile: each tile is stretched on its own.</source>
      <translation>全局：整个栅格或瓦片集使用同一组截断值，相邻瓦片颜色一致。逐瓦片：每个瓦片单独拉伸。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="89" />
      <source>File format of the stretched tiles; a single raster's format follows its file extension.</source>
      <translation>拉伸后瓦片的文件格式；单个栅格的格式由其文件扩展名决定。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="90" />
      <source>Treat this value as nodata instead of the raster's own nodata value.</source>
      <translation>将此值视为无数据值，代替栅格自身的无数据值。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="91" />
      <source>JPEG quality from 1 (smallest files) to 100 (best images).</source>
      <translation>JPEG 质量，从 1（文件最小）到 100（图像最好）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="93" />
      <source>Also writes a .wld file next to each JPEG or PNG, for software that does not read GDAL's .aux.xml.</source>
      <translation>同时在每个 JPEG 或 PNG 旁写出 .wld 文件，供不读取 GDAL .aux.xml 的软件使用。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="95" />
      <source>The stretched image when the input is a single raster; its extension (.jpg, .png, .tif) sets the format.</source>
      <translation>输入为单个栅格时的拉伸图像；其扩展名（.jpg、.png、.tif）决定格式。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="97" />
      <source>The folder for the stretched tiles when the input is a tile set.</source>
      <translation>输入为瓦片集时存放拉伸后瓦片的文件夹。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="98" />
      <source>A tile index that points to the stretched tiles (tile-set input).</source>
      <translation>指向拉伸后瓦片的瓦片索引（瓦片集输入）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="101" />
      <source>A raster to cut into tiles while embedding, without writing tile files (the fast path).</source>
      <translation>在计算嵌入的同时切分为瓦片的栅格，不写出瓦片文件（快速路径）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="102" />
      <source>Width and height of each tile in pixels, when a raster is given.</source>
      <translation>输入为栅格时每个瓦片的宽度和高度（像素）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="103" />
      <source>Instead of a raster: a tile index from 'Split raster into tiles', whose tiles and ids are used.</source>
      <translation>代替栅格：使用“将栅格分割为瓦片”生成的瓦片索引中的瓦片和 ID。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="105" />
      <source>The network that describes each tile; MobileNetV2 is fast and a good default.</source>
      <translation>用于描述每个瓦片的网络；MobileNetV2 速度快，是不错的默认选择。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="106" />
      <source>Empty: the ImageNet weights of the chosen model. Or a local file: a state dict for the model, or a TorchScript or ONNX encoder of your own.</source>
      <translation>留空：所选模型的 ImageNet 权重。或本地文件：模型的 state dict，或你自己的 TorchScript 或 ONNX 编码器。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="108" />
      <source>Tiles are resized to this many pixels before they enter the model.</source>
      <translation>瓦片在输入模型前缩放到此像素大小。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="110" />
      <source>How pixel values become 8-bit colours: global percentiles give every tile the same colours; choose none when the input is already 8-bit RGB.</source>
      <translation>像素值如何转换为 8 位颜色：全局百分位数使所有瓦片颜色一致；输入已是 8 位 RGB 时选择不拉伸。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="112" />
      <source>Averages the embedding over the 8 rotations and flips of each tile, so a turned tile still matches; 8 times slower.</source>
      <translation>对每个瓦片的 8 种旋转和翻转的嵌入取平均，旋转后的瓦片仍能匹配；速度慢 8 倍。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="114" />
      <source>What a tile's vector is made of. auto: mid+final for a backbone of the list (its last block at 1/16 of the input size and its final layer, each pooled and normalised: the best match to hand-labelled land cover, at the cost of final), final for a model file of your own. final: the final layer alone (indexes made before this option). mid: the mid block alone, 30 % cheaper. Queries of the index are embedded the same way.</source>
      <translation>瓦片向量的构成。自动：列表中的骨干网络使用中间+最终（其位于输入尺寸 1/16 处的最后一个块和最终层，各自池化并归一化：与人工标注的土地覆盖最吻合，计算开销与最终层相同），你自己的模型文件使用最终层。最终：仅最终层（此选项出现之前构建的索引）。中间：仅中间块，开销低 30 %。该索引的查询以相同方式计算嵌入。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="119" />
      <source>rot2 averages the tile and its 90-degree turn: twice the time, and a tile turned by 90 degrees is still found (measured on labelled NEON scenes), not one turned by 180 degrees or flipped. rot8 averages the 8 rotations and flips (8 times the time), like the box above. default: as the box above.</source>
      <translation>rot2 对瓦片及其旋转 90 度的副本取平均：耗时加倍，旋转了 90 度的瓦片仍能被找到（在已标注的 NEON 场景上测得），但旋转 180 度或翻转的瓦片则不能。rot8 对 8 种旋转和翻转取平均（耗时 8 倍），与上方复选框相同。default：与上方复选框一致。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="123" />
      <source>Tiles whose share of valid pixels (not nodata, not masked, inside the raster) is below this are left out of the index; 0 leaves out only tiles with no valid pixel. Tiles whose valid pixels all have one value are kept but left out of search results.</source>
      <translation>有效像素（非无数据、未被掩膜、位于栅格内）比例低于此值的瓦片不纳入索引；0 表示只排除没有任何有效像素的瓦片。所有有效像素值都相同的瓦片会保留，但不出现在搜索结果中。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="127" />
      <source>Pixels shared by neighbouring tiles, when a raster is given.</source>
      <translation>输入为栅格时相邻瓦片共享的像素数。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="128" />
      <source>What to do with the partial tiles at the right and bottom edges, when a raster is given.</source>
      <translation>输入为栅格时如何处理右边缘和下边缘的不完整瓦片。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="132" />
      <source>Auto uses a CUDA GPU when the runtime has one (onnxruntime needs onnxruntime-gpu for it), otherwise the CPU cores QGIS may use.</source>
      <translation>自动：运行时支持时使用 CUDA GPU（onnxruntime 需要 onnxruntime-gpu），否则使用 QGIS 可用的 CPU 核心。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="134" />
      <source>What runs the model: onnxruntime (auto picks it when installed; several times faster on a CPU, and needs no torch once the model's ONNX file exists) or torch. Both give the same embeddings.</source>
      <translation>运行模型的方式：onnxruntime（已安装时自动选用；在 CPU 上快数倍，模型的 ONNX 文件存在后无需 torch）或 torch。两者得到的嵌入相同。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="137" />
      <source>Continue an interrupted or canceled run from its last finished batch, when the inputs and settings are the same.</source>
      <translation>输入和设置相同时，从最后完成的批次继续被中断或取消的运行。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="139" />
      <source>Several rasters, in any CRSs, in one index: each is tiled on its own pixel grid, with ids &lt;file name&gt;_r&lt;row&gt;_c&lt;col&gt; (a second file of the same name gets _2). Add a whole folder with the dialog's Add Directory button. Each raster keeps its own stretch. A VRT is one raster (its mosaic).</source>
      <translation>多个栅格（坐标参考系不限）合入一个索引：每个栅格在其自身的像素格网上切分瓦片，ID 为 &lt;file name&gt;_r&lt;row&gt;_c&lt;col&gt;（同名的第二个文件加 _2）。可用对话框的“添加目录”按钮添加整个文件夹。每个栅格保持各自的拉伸。一个 VRT 视为一个栅格（其镶嵌结果）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="143" />
      <source>The CRS of the tile footprints in the index, for rasters in several CRSs; empty: the first raster's. The pixels are not resampled, only the footprints are reprojected.</source>
      <translation>索引中瓦片范围面的坐标参考系，用于多个坐标参考系的栅格；留空：使用第一个栅格的。像素不重采样，只对范围面重投影。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="145" />
      <source>Address of a running Dask cluster to embed the tiles on, for example tcp://10.0.0.5:8786; empty embeds on this computer. Every worker needs the plugin's code, the runtime and weights used here, and the rasters at the same paths (see the README).</source>
      <translation>用于计算瓦片嵌入的运行中 Dask 集群地址，例如 tcp://10.0.0.5:8786；留空则在本机计算。每个工作节点都需要本插件的代码、此处使用的运行时和权重，以及位于相同路径的栅格（见 README）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="148" />
      <source>The similarity index: one folder to keep, move or zip as a unit, which 'Similarity search' and the Similar Tiles dock open.</source>
      <translation>相似性索引：一个可整体保存、移动或压缩的文件夹，可由“相似性搜索”和“相似瓦片”面板打开。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="150" />
      <source>Also writes the embeddings as a NumPy .npy file with a matching _ids.txt, for use outside QGIS.</source>
      <translation>同时将嵌入写为 NumPy .npy 文件及对应的 _ids.txt，供 QGIS 之外使用。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="154" />
      <source>The network to export, as 'Embed tiles' offers it.</source>
      <translation>要导出的网络，与“嵌入瓦片”提供的相同。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="155" />
      <source>Empty: the model's ImageNet weights. Or a state dict for the model, or a TorchScript encoder of your own.</source>
      <translation>留空：模型的 ImageNet 权重。或模型的 state dict，或你自己的 TorchScript 编码器。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="157" />
      <source>What the exported network computes, as 'Embed tiles' FEATURES: an index is searched with the export of its own features (auto: mid+final, final for a TorchScript file).</source>
      <translation>导出的网络所计算的内容，与“嵌入瓦片”的 FEATURES 相同：搜索索引时须使用其自身特征的导出结果（自动：中间+最终，TorchScript 文件为最终层）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="159" />
      <source>Tiles of this raster are embedded with torch and with onnxruntime, and the file is kept only when they agree; empty checks on built-in test images only.</source>
      <translation>分别用 torch 和 onnxruntime 计算此栅格瓦片的嵌入，二者一致时才保留文件；留空则只用内置测试图像检验。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="161" />
      <source>Band numbers for red, green and blue in the check raster, for example 3,2,1.</source>
      <translation>检验栅格中红、绿、蓝对应的波段号，例如 3,2,1。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="162" />
      <source>Empty: beside torchvision's weights, where 'Embed tiles' looks for it. Copy the file to the same folder on a computer without torch, or give it there as the weights.</source>
      <translation>留空：保存在 torchvision 权重旁，“嵌入瓦片”会在那里查找。可将该文件复制到没有 torch 的计算机的相同文件夹，或在那里将其作为权重提供。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="183" />
      <location filename="../../processing_provider/help_texts.py" line="166" />
      <source>The similarity index folder written by 'Embed tiles'.</source>
      <translation>“嵌入瓦片”写出的相似性索引文件夹。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="167" />
      <source>Ids of the tiles to look for, separated by commas, for example scene_r12_c40.</source>
      <translation>要查找的瓦片 ID，以逗号分隔，例如 scene_r12_c40。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="168" />
      <source>Ids of tiles the results should not look like, separated by commas.</source>
      <translation>结果不应与之相似的瓦片 ID，以逗号分隔。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="169" />
      <source>Example places: a point picks the tile under it, a polygon the tiles whose centres it contains. Any CRS.</source>
      <translation>示例地点：点选取其下方的瓦片，面选取中心点落在其中的瓦片。坐标参考系不限。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="171" />
      <source>An image that is not in the index, such as a photo of the target; it is embedded with the index's own model and settings.</source>
      <translation>不在索引中的图像，例如目标的照片；用索引自身的模型和设置计算其嵌入。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="173" />
      <source>Uses only this part of the query image; empty uses the whole image.</source>
      <translation>只使用查询图像的这一部分；留空则使用整幅图像。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="174" />
      <source>How many similar tiles to return.</source>
      <translation>返回的相似瓦片数量。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="175" />
      <source>How strongly the negative tiles push the results away; 0 ignores them.</source>
      <translation>负例瓦片对结果的排斥强度；0 表示忽略负例。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="176" />
      <source>Leaves the query tiles themselves out of the results.</source>
      <translation>结果中不包含查询瓦片本身。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="177" />
      <source>Constant tiles (every valid pixel the same value: a fill, a blank scan) all look alike and are left out of the results and the heatmap; tick to include them.</source>
      <translation>常值瓦片（所有有效像素值相同：填充区、空白扫描）彼此都很相似，因此不出现在结果和热力图中；勾选则包含它们。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="179" />
      <source>The k most similar tiles as polygons, with rank (1 = most similar) and score (1 = identical).</source>
      <translation>最相似的 k 个瓦片（面），带排名（1 = 最相似）和得分（1 = 完全相同）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="180" />
      <source>Every tile with its score, for a heatmap of similarity.</source>
      <translation>每个瓦片及其得分，用于相似性热力图。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="184" />
      <source>Labelled examples: a point labels the tile under it, a polygon the tiles whose centres it contains. Any CRS; the labels layer saved by the Similar Tiles dock works too.</source>
      <translation>标注样例：点标注其下方的瓦片，面标注中心点落在其中的瓦片。坐标参考系不限；“相似瓦片”面板保存的标签图层也可使用。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="186" />
      <source>The field holding each place's label: 1/0, yes/no, true/false, or class names (then set the positive class).</source>
      <translation>存放每个地点标签的字段：1/0、yes/no、true/false 或类别名称（此时需设置正类）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="188" />
      <source>When the labels are class names: the class to find. Every other class is a negative example.</source>
      <translation>标签为类别名称时：要查找的类别。其他所有类别都作为负例。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="190" />
      <source>Ids of tiles that show what you are looking for, separated by commas, for example scene_r12_c40.</source>
      <translation>包含所查找目标的瓦片 ID，以逗号分隔，例如 scene_r12_c40。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="192" />
      <source>Ids of tiles that do not, separated by commas. Without any negatives, random tiles of the index serve as negatives.</source>
      <translation>不包含该目标的瓦片 ID，以逗号分隔。没有负例时，用索引中的随机瓦片作为负例。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="194" />
      <source>A classifier saved by an earlier run (.json), applied to this index instead of training one; the index must be built with the same model and settings.</source>
      <translation>之前运行保存的分类器（.json），直接应用于此索引而不重新训练；该索引必须用相同的模型和设置构建。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="196" />
      <source>Tiles whose probability is at least this value are detections; raise it for fewer, surer detections.</source>
      <translation>概率不低于此值的瓦片为检测结果；调高可得到更少但更可靠的检测结果。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="198" />
      <source>With positives only, this many random tiles of the index are taken as negatives; 0 requires labelled negatives.</source>
      <translation>只有正例时，从索引中随机抽取此数量的瓦片作为负例；0 表示必须提供已标注的负例。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="200" />
      <source>Constant tiles (every valid pixel the same value: a fill, a blank scan) all look alike, so they get no probability (NULL) and are never detected; tick to include them. A constant tile can still be a labelled example.</source>
      <translation>常值瓦片（所有有效像素值相同：填充区、空白扫描）彼此都很相似，因此没有概率（NULL），也不会被检测出；勾选以包含它们。常值瓦片仍可作为已标注的样例。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="203" />
      <source>Every tile of the index with its probability (0 to 1) of being what you are looking for.</source>
      <translation>索引中的每个瓦片及其属于所查找目标的概率（0 到 1）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="204" />
      <source>Touching tiles at or above the threshold merged into areas, with their area, number of tiles, and highest and mean probability.</source>
      <translation>将相邻且不低于阈值的瓦片合并为区域，带面积、瓦片数以及最高和平均概率。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="206" />
      <source>The probabilities as a raster with one cell per tile, quick to draw for large indexes.</source>
      <translation>以栅格表示的概率，每个瓦片一个像元，大型索引也能快速绘制。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="208" />
      <source>Where to save the trained classifier (.json plus a .npy beside it); empty saves it in the index folder, under classifiers.</source>
      <translation>训练好的分类器的保存位置（.json 及旁边的 .npy）；留空则保存在索引文件夹的 classifiers 下。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="213" />
      <source>The raster to segment.</source>
      <translation>要分割的栅格。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="214" />
      <source>The bands to use; none selected uses every band.</source>
      <translation>要使用的波段；未选择时使用所有波段。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="215" />
      <source>Width of the tiles processed one at a time; memory grows with tile size times workers.</source>
      <translation>每次处理的瓦片宽度；内存占用随瓦片大小乘以工作线程数增长。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="216" />
      <source>Height of the tiles processed one at a time.</source>
      <translation>每次处理的瓦片高度。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="217" />
      <source>Tiles segmented in parallel; 0 uses every CPU core.</source>
      <translation>并行分割的瓦片数；0 表示使用所有 CPU 核心。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="218" />
      <source>Each tile also looks this many pixels beyond its edges so that segments join without seams; keep it at least the minimum segment size.</source>
      <translation>每个瓦片向边缘外多读取此数量的像素，使分割块无缝拼接；请至少设为最小分割块大小。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="220" />
      <source>A tile with less than this share of valid pixels is joined to its neighbour.</source>
      <translation>有效像素比例低于此值的瓦片并入相邻瓦片。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="221" />
      <source>Pixels sampled from the whole raster to train k-means.</source>
      <translation>从整个栅格中抽样用于训练 K 均值的像素数。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="222" />
      <source>Scales every band to zero mean and unit standard deviation before k-means, so no band dominates by its range; off clusters the raw band values, as RSGISLib and pyshepseg do.</source>
      <translation>在 K 均值之前将每个波段标准化为零均值、单位标准差，避免某个波段因取值范围大而占主导；关闭则像 RSGISLib 和 pyshepseg 一样对原始波段值聚类。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="224" />
      <source>The random seed of k-means: the same seed and inputs give the same segments.</source>
      <translation>K 均值的随机种子：相同的种子和输入得到相同的分割结果。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="225" />
      <source>The most iterations of each k-means run; more may fit the clusters better and take longer.</source>
      <translation>每次 K 均值运行的最大迭代次数；次数越多聚类可能越好，但耗时更长。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="227" />
      <source>How many times k-means starts from different random centres; the run that fits the sample best is kept.</source>
      <translation>K 均值从不同随机中心开始的次数；保留对样本拟合最好的一次。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="229" />
      <source>Address of a Dask cluster to run the tiles on, for example tcp://10.0.0.5:8786; empty runs on this computer.</source>
      <translation>用于处理瓦片的 Dask 集群地址，例如 tcp://10.0.0.5:8786；留空则在本机运行。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="231" />
      <source>The segment raster: one number per segment, 0 where there is no data.</source>
      <translation>分割栅格：每个分割块一个编号，无数据处为 0。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="232" />
      <source>An image where each pixel has the mean colour of its segment.</source>
      <translation>每个像素取其所在分割块平均颜色的图像。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/help_texts.py" line="233" />
      <source>The segments as polygons with their size and the mean and standard deviation of each band.</source>
      <translation>以面表示的分割块，带大小以及各波段的均值和标准差。</translation>
    </message>
  </context>
  <context>
    <name>OpenIndexTask</name>
    <message>
      <location filename="../../plugin/similarity_session.py" line="32" />
      <source>Tile Embeddings: open index</source>
      <translation>Tile Embeddings：打开索引</translation>
    </message>
  </context>
  <context>
    <name>RemoveFromIndexAlgorithm</name>
    <message>
      <location filename="../../processing_provider/remove_from_index.py" line="32" />
      <source>Similarity index (folder from 'Embed tiles')</source>
      <translation>相似性索引（“嵌入瓦片”生成的文件夹）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/remove_from_index.py" line="37" />
      <source>Raster to remove (its path, file name or id prefix)</source>
      <translation>要移除的栅格（其路径、文件名或 ID 前缀）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/remove_from_index.py" line="39" />
      <source>Similarity index</source>
      <translation>相似性索引</translation>
    </message>
    <message>
      <location filename="../../processing_provider/remove_from_index.py" line="41" />
      <source>Index tiles</source>
      <translation>索引瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/remove_from_index.py" line="43" />
      <source>Tiles in the index</source>
      <translation>索引中的瓦片数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/remove_from_index.py" line="44" />
      <source>Tiles removed</source>
      <translation>已移除的瓦片数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/remove_from_index.py" line="57" />
      <source>{} tiles removed, {} left in the index</source>
      <translation>已移除 {} 个瓦片，索引中剩余 {} 个</translation>
    </message>
  </context>
  <context>
    <name>ResultLayers</name>
    <message>
      <location filename="../../plugin/result_layers.py" line="41" />
      <source>Similar tiles</source>
      <translation>相似瓦片</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="42" />
      <source>Query tiles</source>
      <translation>查询瓦片</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="43" />
      <source>Similarity heatmap</source>
      <translation>相似性热力图</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="44" />
      <source>Find all: probability</source>
      <translation>查找全部：概率</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="45" />
      <source>Find all: detections</source>
      <translation>查找全部：检测结果</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="94" />
      <source>Query (positive)</source>
      <translation>查询（正例）</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="95" />
      <source>Negative example</source>
      <translation>负例</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="101" />
      <source>more similar</source>
      <translation>更相似</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="101" />
      <source>less similar</source>
      <translation>较不相似</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="123" />
      <source>rank {}</source>
      <translation>排名 {}</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="125" />
      <source>rank {}-{}</source>
      <translation>排名 {}-{}</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="204" />
      <source>unlikely (0)</source>
      <translation>不太可能 (0)</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="205" />
      <source>likely (1)</source>
      <translation>很可能 (1)</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="219" />
      <source>unlikely</source>
      <translation>不太可能</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="220" />
      <source>uncertain</source>
      <translation>不确定</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="221" />
      <source>likely</source>
      <translation>很可能</translation>
    </message>
    <message>
      <location filename="../../plugin/result_layers.py" line="238" />
      <source>detected (p ≥ {:.2f})</source>
      <translation>已检出 (p ≥ {:.2f})</translation>
    </message>
  </context>
  <context>
    <name>RgbStretchAlgorithm</name>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="53" />
      <source>Input raster (or leave empty and give a tile set)</source>
      <translation>输入栅格（或留空并提供瓦片集）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="59" />
      <source>Tile index (a tile set)</source>
      <translation>瓦片索引（瓦片集）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="67" />
      <source>Folder of tiles (a tile set)</source>
      <translation>瓦片文件夹（瓦片集）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="74" />
      <source>Band order: red, green, blue band numbers (one band = grey)</source>
      <translation>波段顺序：红、绿、蓝波段号（单个波段 = 灰度）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="80" />
      <source>Lower percentile (becomes black)</source>
      <translation>下百分位数（变为黑色）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="90" />
      <source>Upper percentile (becomes white)</source>
      <translation>上百分位数（变为白色）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="100" />
      <source>Statistics from</source>
      <translation>统计范围</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="102" />
      <source>The whole raster or tile set (global)</source>
      <translation>整个栅格或瓦片集（全局）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="103" />
      <source>Each tile on its own (per tile)</source>
      <translation>每个瓦片单独统计（逐瓦片）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="110" />
      <source>Tile format (tile sets)</source>
      <translation>瓦片格式（瓦片集）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="114" />
      <source>Nodata value (overrides the raster's)</source>
      <translation>无数据值（覆盖栅格自身的）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="117" />
      <source>JPEG quality</source>
      <translation>JPEG 质量</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="120" />
      <source>Threads (0 = one per CPU core, at most 8)</source>
      <translation>线程数（0 = 每个 CPU 核心一个，最多 8 个）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="124" />
      <source>Also write a world file (.wld) for software other than GDAL/QGIS</source>
      <translation>同时写出世界文件（.wld），供 GDAL/QGIS 以外的软件使用</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="133" />
      <source>Stretched image (raster input; .jpg, .png or .tif)</source>
      <translation>拉伸后的图像（栅格输入；.jpg、.png 或 .tif）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="140" />
      <source>Stretched tiles folder (tile-set input)</source>
      <translation>拉伸后的瓦片文件夹（瓦片集输入）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="146" />
      <source>Tile index of the stretched tiles</source>
      <translation>拉伸后瓦片的瓦片索引</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="159" />
      <source>Give exactly one input: a raster ({}), a tile index ({}) or a folder of tiles ({}).</source>
      <translation>请只提供一种输入：栅格（{}）、瓦片索引（{}）或瓦片文件夹（{}）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="182" />
      <source>{}: choose where to save the stretched image.</source>
      <translation>{}：请选择拉伸后图像的保存位置。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="208" />
      <source>{}: choose a folder for the stretched tiles.</source>
      <translation>{}：请为拉伸后的瓦片选择文件夹。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="231" />
      <source>{} tiles stretched</source>
      <translation>已拉伸 {} 个瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="239" />
      <source>Cut values (low, high) per output band: {}</source>
      <translation>各输出波段的截断值（低，高）：{}</translation>
    </message>
  </context>
  <context>
    <name>SearchTask</name>
    <message>
      <location filename="../../plugin/search_task.py" line="25" />
      <source>Tile Embeddings: similarity search</source>
      <translation>Tile Embeddings：相似性搜索</translation>
    </message>
  </context>
  <context>
    <name>ShippedModel</name>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="187" />
      <location filename="../models/find_similar_places.model3" line="113" />
      <location filename="../models/build_similarity_index.model3" line="327" />
      <location filename="../../processing_provider/provider.py" line="37" />
      <source>Workflows</source>
      <translation>工作流</translation>
    </message>
    <message>
      <location filename="../../processing_provider/provider.py" line="45" />
      <source>cannot read the model {}</source>
      <translation>无法读取模型 {}</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="317" />
      <source>Prepares a study area for similarity search: clips the raster to the bounding box of the study area, splits it into tiles, stretches every tile to 8-bit RGB with the same colours for all tiles (0.5-99.5 % of the whole area), and describes each tile with MobileNetV2 embeddings in a similarity index. Open the index in the Similar Tiles dock and click a tile, or run 'Find tiles that look like example places' with a layer of places.</source>
      <translation>为相似性搜索准备研究区：将栅格裁剪到研究区的边界框，切分为瓦片，以统一的颜色将每个瓦片拉伸为 8 位 RGB（整个区域的 0.5-99.5 %），并用 MobileNetV2 嵌入描述每个瓦片，存入相似性索引。在“相似瓦片”面板中打开索引并单击瓦片，或以地点图层运行“查找与示例地点相似的瓦片”。</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="318" />
      <source>Clips a raster to a study area, cuts it into tiles and builds their similarity index.</source>
      <translation>将栅格裁剪到研究区，切分为瓦片并构建其相似性索引。</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="337" />
      <location filename="../models/build_similarity_index.model3" line="319" />
      <source>Band numbers for red, green and blue, for example 3,2,1 for a 4-band scene.</source>
      <translation>红、绿、蓝对应的波段号，例如 4 波段影像用 3,2,1。</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="348" />
      <location filename="../models/build_similarity_index.model3" line="320" />
      <source>Tile ids are the prefix, then _r and the row, then _c and the column, counted from the top-left tile (tile_r0_c0).</source>
      <translation>瓦片 ID 由前缀、_r 加行号、_c 加列号组成，从左上角瓦片（tile_r0_c0）起算。</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="239" />
      <location filename="../models/study_area_segmentation.model3" line="182" />
      <location filename="../models/build_similarity_index.model3" line="359" />
      <location filename="../models/build_similarity_index.model3" line="321" />
      <source>The image to work on; it needs a CRS.</source>
      <translation>要处理的影像，必须有坐标参考系。</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="285" />
      <location filename="../models/study_area_segmentation.model3" line="183" />
      <location filename="../models/build_similarity_index.model3" line="421" />
      <location filename="../models/build_similarity_index.model3" line="322" />
      <source>A layer whose features outline the area of interest; the raster is clipped to their bounding box.</source>
      <translation>其要素勾画出感兴趣区域的图层；栅格将被裁剪到这些要素的边界框。</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="465" />
      <location filename="../models/build_similarity_index.model3" line="323" />
      <source>Width and height of each tile in pixels (tiles that do not fit at the right and bottom edges are dropped).</source>
      <translation>每个瓦片的宽度和高度（像素）（右边缘和下边缘放不下的瓦片将被丢弃）。</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="328" />
      <source>Build a similarity index for a study area</source>
      <translation>为研究区构建相似性索引</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="335" />
      <source>Band order (R,G,B)</source>
      <translation>波段顺序（R,G,B）</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="346" />
      <source>Tile name prefix</source>
      <translation>瓦片名称前缀</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="237" />
      <location filename="../models/build_similarity_index.model3" line="357" />
      <source>Raster (aerial or satellite image)</source>
      <translation>栅格（航空或卫星影像）</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="368" />
      <source>RGB tile folder</source>
      <translation>RGB 瓦片文件夹</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="370" />
      <source>The folder for the stretched tiles when the input is a tile set.</source>
      <translation>输入为瓦片集时存放拉伸后瓦片的文件夹。</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="385" />
      <source>RGB tile index</source>
      <translation>RGB 瓦片索引</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="387" />
      <source>A tile index that points to the stretched tiles (tile-set input).</source>
      <translation>指向拉伸后瓦片的瓦片索引（瓦片集输入）。</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="401" />
      <source>Similarity index</source>
      <translation>相似性索引</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="403" />
      <source>The similarity index: one folder to keep, move or zip as a unit, which 'Similarity search' and the Similar Tiles dock open.</source>
      <translation>相似性索引：一个可整体保存、移动或压缩的文件夹，可由“相似性搜索”和“相似瓦片”面板打开。</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="283" />
      <location filename="../models/build_similarity_index.model3" line="419" />
      <source>Study area (any CRS)</source>
      <translation>研究区（坐标参考系不限）</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="430" />
      <source>Tile folder</source>
      <translation>瓦片文件夹</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="432" />
      <source>The folder that receives the tile GeoTIFFs.</source>
      <translation>存放瓦片 GeoTIFF 的文件夹。</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="447" />
      <source>Tile index</source>
      <translation>瓦片索引</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="449" />
      <source>A polygon layer with the footprint of each tile and its tile_id, row, col, path, valid_fraction and centre.</source>
      <translation>面图层，包含每个瓦片的范围及其 tile_id、row、col、path、valid_fraction 和中心点。</translation>
    </message>
    <message>
      <location filename="../models/build_similarity_index.model3" line="463" />
      <source>Tile size (pixels)</source>
      <translation>瓦片大小（像素）</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="105" />
      <source>Finds the tiles of a similarity index that look most like the places of a layer: draw or pick a few points or polygons on examples of what you are looking for. The results are ranked by similarity (score 1 = identical); the heatmap output scores every tile.</source>
      <translation>在相似性索引中查找与某图层中地点最相似的瓦片：在所查找目标的示例上绘制或选取几个点或面。结果按相似度排序（得分 1 = 完全相同）；热力图输出为每个瓦片打分。</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="106" />
      <source>Finds the tiles of a similarity index that look like the places of a point or polygon layer.</source>
      <translation>在相似性索引中查找与点或面图层中地点相似的瓦片。</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="144" />
      <location filename="../models/find_similar_places.model3" line="107" />
      <source>A similarity index folder, from 'Build a similarity index for a study area' or 'Embed tiles'.</source>
      <translation>相似性索引文件夹，由“为研究区构建相似性索引”或“嵌入瓦片”生成。</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="155" />
      <location filename="../models/find_similar_places.model3" line="108" />
      <source>How many similar tiles to return.</source>
      <translation>返回的相似瓦片数量。</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="171" />
      <location filename="../models/find_similar_places.model3" line="109" />
      <source>Points or polygons on what you are looking for: a point picks the tile under it, a polygon the tiles whose centres it contains. Any CRS.</source>
      <translation>位于所查找目标上的点或面：点选取其下方的瓦片，面选取中心点落在其中的瓦片。坐标参考系不限。</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="114" />
      <source>Find tiles that look like example places</source>
      <translation>查找与示例地点相似的瓦片</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="123" />
      <source>Heatmap scores</source>
      <translation>热力图得分</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="125" />
      <source>Every tile with its score, for a heatmap of similarity.</source>
      <translation>每个瓦片及其得分，用于相似性热力图。</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="140" />
      <source>Similarity index (folder)</source>
      <translation>相似性索引（文件夹）</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="153" />
      <source>Number of similar tiles</source>
      <translation>相似瓦片数量</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="169" />
      <source>Example places (points or polygons)</source>
      <translation>示例地点（点或面）</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="181" />
      <source>Similar tiles</source>
      <translation>相似瓦片</translation>
    </message>
    <message>
      <location filename="../models/find_similar_places.model3" line="183" />
      <source>The k most similar tiles as polygons, with rank (1 = most similar) and score (1 = identical).</source>
      <translation>最相似的 k 个瓦片（面），带排名（1 = 最相似）和得分（1 = 完全相同）。</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="178" />
      <source>Clips the raster to the bounding box of the study area, then segments it into regions of similar colour with the tiled Shepherd algorithm (k-means, then iterative elimination of small regions) on every CPU core; outputs the segment raster and segment polygons with statistics.</source>
      <translation>将栅格裁剪到研究区的边界框，然后在所有 CPU 核心上用分块 Shepherd 算法（K 均值，再迭代消除小区域）将其分割为颜色相近的区域；输出分割栅格和带统计信息的分割面。</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="179" />
      <source>Clips a raster to a study area and segments it into regions of similar colour.</source>
      <translation>将栅格裁剪到研究区，并分割为颜色相近的区域。</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="214" />
      <location filename="../models/study_area_segmentation.model3" line="180" />
      <source>Segments smaller than this merge into their most similar neighbour.</source>
      <translation>小于此值的分割块并入最相似的相邻分割块。</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="227" />
      <location filename="../models/study_area_segmentation.model3" line="181" />
      <source>How many spectral classes k-means finds before regions are formed; more give more, smaller segments.</source>
      <translation>形成区域之前 K 均值找出的光谱类别数；越多则分割块越多、越小。</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="188" />
      <source>Segment a study area</source>
      <translation>分割研究区</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="196" />
      <source>Clipped raster</source>
      <translation>裁剪后的栅格</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="198" />
      <source>A tiled, compressed GeoTIFF on the source pixel grid (no resampling).</source>
      <translation>分块、压缩的 GeoTIFF，与源像素格网一致（不重采样）。</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="212" />
      <source>Minimum segment size (pixels)</source>
      <translation>最小分割块大小（像素）</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="225" />
      <source>Number of k-means clusters</source>
      <translation>K 均值聚类数</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="249" />
      <source>Segment polygons</source>
      <translation>分割面</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="251" />
      <source>The segments as polygons with their size and the mean and standard deviation of each band.</source>
      <translation>以面表示的分割块，带大小以及各波段的均值和标准差。</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="265" />
      <source>Segments</source>
      <translation>分割结果</translation>
    </message>
    <message>
      <location filename="../models/study_area_segmentation.model3" line="267" />
      <source>The segment raster: one number per segment, 0 where there is no data.</source>
      <translation>分割栅格：每个分割块一个编号，无数据处为 0。</translation>
    </message>
  </context>
  <context>
    <name>SimilarityDock</name>
    <message>
      <location filename="../../plugin/dock.py" line="33" />
      <source>Similar Tiles</source>
      <translation>相似瓦片</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="34" />
      <source>Click: query tile · Shift-click: add positive · Ctrl-click: add negative · double-click a row to zoom</source>
      <translation>单击：查询瓦片 · Shift+单击：添加正例 · Ctrl+单击：添加负例 · 双击行以缩放</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="38" />
      <source>Find all is on: click a tile = yes · Ctrl-click = no · Y / N marks the proposed tile</source>
      <translation>“查找全部”已开启：单击瓦片 = 是 · Ctrl+单击 = 否 · Y / N 标记推荐的瓦片</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="85" />
      <source>Similarity index folder (the OUTPUT of Embed tiles)</source>
      <translation>相似性索引文件夹（“嵌入瓦片”的输出）</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="86" />
      <source>The folder that 'Embed tiles' wrote (it holds meta.json, ids.txt, embeddings.npy and tiles.gpkg); any folder name works.</source>
      <translation>“嵌入瓦片”写出的文件夹（包含 meta.json、ids.txt、embeddings.npy 和 tiles.gpkg）；文件夹名称不限。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="88" />
      <source>Index folder</source>
      <translation>索引文件夹</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="93" />
      <source>Or pick a layer of the project that belongs to an index: the tile layer that 'Embed tiles' adds to the project when it finishes.</source>
      <translation>或选择项目中属于某个索引的图层：即“嵌入瓦片”完成后添加到项目中的瓦片图层。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="95" />
      <source>…or index layer</source>
      <translation>…或索引图层</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="266" />
      <location filename="../../plugin/dock.py" line="96" />
      <source>No index open.</source>
      <translation>未打开索引。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="102" />
      <source>How many look-alike tiles to show (the query tiles are not counted).</source>
      <translation>显示多少个相似瓦片（不计查询瓦片）。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="103" />
      <source>Results (k)</source>
      <translation>结果数 (k)</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="105" />
      <source>Minimum score</source>
      <translation>最低得分</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="106" />
      <source>Show only results at least this similar (cosine similarity: 1 = identical, 0 = unrelated).</source>
      <translation>只显示相似度不低于此值的结果（余弦相似度：1 = 完全相同，0 = 无关）。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="121" />
      <source>Pick tiles on map</source>
      <translation>在地图上选取瓦片</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="123" />
      <source>Click: query tile · Shift-click: add a positive · Ctrl-click: add a negative</source>
      <translation>单击：查询瓦片 · Shift+单击：添加正例 · Ctrl+单击：添加负例</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="124" />
      <source>Heatmap</source>
      <translation>热力图</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="126" />
      <source>Colour every tile by its similarity to the query (red: more similar, blue: less similar), under the result outlines.</source>
      <translation>按与查询的相似度为每个瓦片着色（红：更相似，蓝：较不相似），显示在结果轮廓之下。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="128" />
      <source>Export…</source>
      <translation>导出…</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="129" />
      <source>Save the query tiles and the results (role, rank, score, tile id) to a GeoPackage.</source>
      <translation>将查询瓦片和结果（角色、排名、得分、瓦片 ID）保存到 GeoPackage。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="131" />
      <source>Clear</source>
      <translation>清除</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="132" />
      <source>Forget the query tiles and results and remove their layers from the map.</source>
      <translation>清除查询瓦片和结果，并从地图中移除其图层。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="185" />
      <location filename="../../plugin/dock.py" line="143" />
      <source>Tile</source>
      <translation>瓦片</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="143" />
      <source>Rank / role</source>
      <translation>排名 / 角色</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="143" />
      <source>Score</source>
      <translation>得分</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="152" />
      <source>Look-alikes</source>
      <translation>相似结果</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="164" />
      <location filename="../../plugin/dock.py" line="153" />
      <source>Find all</source>
      <translation>查找全部</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="167" />
      <source>Train a classifier on the tiles you labelled (clicked: yes, Ctrl-clicked: no) and show every tile's probability and the detections; it retrains after every label.</source>
      <translation>用你标注的瓦片（单击：是，Ctrl+单击：否）训练分类器，显示每个瓦片的概率和检测结果；每次标注后都会重新训练。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="170" />
      <source>Threshold</source>
      <translation>阈值</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="176" />
      <source>Tiles with a probability at or above this are detections.</source>
      <translation>概率不低于此值的瓦片为检测结果。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="319" />
      <location filename="../../plugin/dock.py" line="179" />
      <source>Label a few tiles (click: yes, Ctrl-click: no), then press Find all.</source>
      <translation>标注几个瓦片（单击：是，Ctrl+单击：否），然后按“查找全部”。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="182" />
      <source>Check these next (the tiles whose label would help most):</source>
      <translation>接下来请检查这些瓦片（标注它们最有帮助）：</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="185" />
      <source>Probability</source>
      <translation>概率</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="188" />
      <source>Select a tile and press Y (yes) or N (no); double-click to zoom to it.</source>
      <translation>选择一个瓦片并按 Y（是）或 N（否）；双击可缩放到该瓦片。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="191" />
      <source>Yes (Y)</source>
      <translation>是 (Y)</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="192" />
      <source>The selected tile is of the kind you are looking for.</source>
      <translation>所选瓦片属于你要查找的类别。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="193" />
      <source>No (N)</source>
      <translation>否 (N)</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="194" />
      <source>The selected tile is not of the kind you are looking for.</source>
      <translation>所选瓦片不属于你要查找的类别。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="202" />
      <source>A GeoPackage for the labels (tile id, label 1/0, time, tile polygon): continue another day, or feed it to 'Classify tiles'.</source>
      <translation>存放标签的 GeoPackage（瓦片 ID、标签 1/0、时间、瓦片面）：可改日继续，或输入“瓦片分类”。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="205" />
      <source>Save labels</source>
      <translation>保存标签</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="206" />
      <source>Write the labels to the GeoPackage on the left.</source>
      <translation>将标签写入左侧的 GeoPackage。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="207" />
      <source>Load labels</source>
      <translation>加载标签</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="208" />
      <source>Read labels from the GeoPackage on the left (replaces the current ones).</source>
      <translation>从左侧的 GeoPackage 读取标签（替换当前标签）。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="270" />
      <source>Not a similarity index: {}&lt;br&gt;Choose the folder that 'Embed tiles' wrote (it holds meta.json, ids.txt, embeddings.npy and tiles.gpkg).</source>
      <translation>不是相似性索引：{}&lt;br&gt;请选择“嵌入瓦片”写出的文件夹（包含 meta.json、ids.txt、embeddings.npy 和 tiles.gpkg）。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="273" />
      <source>Opening index…</source>
      <translation>正在打开索引…</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="281" />
      <source>Layer '{}' is not part of a similarity index: pick the tile layer that 'Embed tiles' added, or choose the index folder.</source>
      <translation>图层“{}”不属于任何相似性索引：请选择“嵌入瓦片”添加的瓦片图层，或选择索引文件夹。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="288" />
      <source>&lt;b&gt;Cannot open&lt;/b&gt; {path}: {reason}</source>
      <translation>&lt;b&gt;无法打开&lt;/b&gt; {path}：{reason}</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="338" />
      <source>&lt;b&gt;{detections:,} tiles&lt;/b&gt; at p ≥ {threshold:.2f} · {yes} yes, {no} no · {quality}</source>
      <translation>&lt;b&gt;{detections:,} 个瓦片&lt;/b&gt; p ≥ {threshold:.2f} · {yes} 个是，{no} 个否 · {quality}</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="347" />
      <source>Select a tile in the list first.</source>
      <translation>请先在列表中选择一个瓦片。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="354" />
      <source>Choose a GeoPackage for the labels first.</source>
      <translation>请先为标签选择 GeoPackage。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="361" />
      <source>Saving labels failed: {}</source>
      <translation>保存标签失败：{}</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="363" />
      <source>{n} labels saved to {path}</source>
      <translation>已将 {n} 个标签保存到 {path}</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="368" />
      <source>Choose an existing GeoPackage of labels first.</source>
      <translation>请先选择已有的标签 GeoPackage。</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="373" />
      <source>Loading labels failed: {}</source>
      <translation>加载标签失败：{}</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="375" />
      <source>; {} features outside the index ignored</source>
      <translation>；已忽略索引范围外的 {} 个要素</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="376" />
      <source>{yes} yes and {no} no labels loaded{extra}</source>
      <translation>已加载 {yes} 个“是”和 {no} 个“否”标签{extra}</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="381" />
      <source>&lt;b&gt;{name}&lt;/b&gt;&lt;br&gt;model: {model} · {tiles:,} tiles · CRS: {crs}</source>
      <translation>&lt;b&gt;{name}&lt;/b&gt;&lt;br&gt;模型：{model} · {tiles:,} 个瓦片 · 坐标参考系：{crs}</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="416" />
      <source>{results} results · search {search:.0f} ms · click → drawn {drawn:.0f} ms</source>
      <translation>{results} 个结果 · 搜索 {search:.0f} 毫秒 · 单击到绘制 {drawn:.0f} 毫秒</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="422" />
      <source>query +</source>
      <translation>查询 +</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="423" />
      <source>query −</source>
      <translation>查询 −</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="455" />
      <source>Export similarity results</source>
      <translation>导出相似性结果</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="463" />
      <source>Export failed: {}</source>
      <translation>导出失败：{}</translation>
    </message>
    <message>
      <location filename="../../plugin/dock.py" line="465" />
      <source>Exported to {}</source>
      <translation>已导出到 {}</translation>
    </message>
  </context>
  <context>
    <name>SimilaritySearchAlgorithm</name>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="191" />
      <source>{}: cannot transform the query features from {} to the index CRS {} ({}). Reproject the query layer to the index CRS, or give tile ids instead.</source>
      <translation>{}：无法将查询要素从 {} 转换到索引的坐标参考系 {}（{}）。请将查询图层重投影到索引的坐标参考系，或改为提供瓦片 ID。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="54" />
      <source>Similarity index (folder from 'Embed tiles')</source>
      <translation>相似性索引（“嵌入瓦片”生成的文件夹）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="60" />
      <source>Query tile ids (positives, comma-separated)</source>
      <translation>查询瓦片 ID（正例，以逗号分隔）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="65" />
      <source>Negative tile ids (comma-separated)</source>
      <translation>负例瓦片 ID（以逗号分隔）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="71" />
      <source>…or query features (points/polygons pick the tiles under them)</source>
      <translation>…或查询要素（点/面选取其下方的瓦片）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="79" />
      <source>…or an image not in the index (embedded with the index's model)</source>
      <translation>…或不在索引中的图像（用索引的模型计算嵌入）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="86" />
      <source>Area of the query image (default: the whole image)</source>
      <translation>查询图像的范围（默认：整幅图像）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="93" />
      <source>Number of results (k)</source>
      <translation>结果数 (k)</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="101" />
      <source>Weight of the negatives</source>
      <translation>负例权重</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="110" />
      <source>Leave the query tiles out of the results</source>
      <translation>结果中不包含查询瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="115" />
      <source>Include constant tiles (every valid pixel the same value: fill, blank) in the results</source>
      <translation>结果中包含常值瓦片（所有有效像素值相同：填充、空白）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="122" />
      <source>Similar tiles</source>
      <translation>相似瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="128" />
      <source>Score of every tile (heatmap)</source>
      <translation>每个瓦片的得分（热力图）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="138" />
      <source>onnxruntime or torch</source>
      <translation>onnxruntime 或 torch</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="141" />
      <source>Optional package(s) {} missing ({}).</source>
      <translation>缺少可选包 {}（{}）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="153" />
      <source>{}: the layer has no CRS, so its features cannot be placed on the index's tiles. Set the layer's CRS.</source>
      <translation>{}：该图层没有坐标参考系，其要素无法对应到索引的瓦片上。请设置图层的坐标参考系。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="160" />
      <source>{}: the index has no CRS, so query features cannot be placed on its tiles; give tile ids instead.</source>
      <translation>{}：索引没有坐标参考系，查询要素无法对应到其瓦片上；请改为提供瓦片 ID。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="168" />
      <source>no transformation exists</source>
      <translation>不存在可用的坐标转换</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="186" />
      <source>{}: the layer has no features with a geometry.</source>
      <translation>{}：该图层没有带几何的要素。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="227" />
      <source>{}: save the image to a file.</source>
      <translation>{}：请将图像保存为文件。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="236" />
      <source>faiss is not installed: using exact numpy search ({}).</source>
      <translation>未安装 faiss：使用 numpy 精确搜索（{}）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="252" />
      <source>query: {}</source>
      <translation>查询：{}</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="257" />
      <source>{}: cannot read {}</source>
      <translation>{}：无法读取 {}</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="273" />
      <source>{}: tiles.gpkg does not match the embeddings (rebuild the index).</source>
      <translation>{}：tiles.gpkg 与嵌入不匹配（请重建索引）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="295" />
      <source>Canceled: no output was written.</source>
      <translation>已取消：未写入任何输出。</translation>
    </message>
  </context>
  <context>
    <name>SimilaritySession</name>
    <message>
      <location filename="../../plugin/similarity_session.py" line="171" />
      <source>Cannot open similarity index {}: {}</source>
      <translation>无法打开相似性索引 {}：{}</translation>
    </message>
    <message>
      <location filename="../../plugin/similarity_session.py" line="210" />
      <source>Choose a similarity index first.</source>
      <translation>请先选择相似性索引。</translation>
    </message>
    <message>
      <location filename="../../plugin/similarity_session.py" line="214" />
      <source>No tile of the index here: click inside a tile.</source>
      <translation>此处没有索引瓦片：请在瓦片内单击。</translation>
    </message>
    <message>
      <location filename="../../plugin/similarity_session.py" line="243" />
      <source>Add at least one positive tile (plain click or Shift-click).</source>
      <translation>请至少添加一个正例瓦片（单击或 Shift+单击）。</translation>
    </message>
    <message>
      <location filename="../../plugin/similarity_session.py" line="300" />
      <source>Similarity search failed: {}</source>
      <translation>相似性搜索失败：{}</translation>
    </message>
    <message>
      <location filename="../../plugin/similarity_session.py" line="356" />
      <source>Heatmap: click a tile first; every tile is then coloured by its similarity to it.</source>
      <translation>热力图：请先单击一个瓦片；随后每个瓦片将按与它的相似度着色。</translation>
    </message>
    <message>
      <location filename="../../plugin/similarity_session.py" line="364" />
      <source>nothing to export: click a tile first</source>
      <translation>没有可导出的内容：请先单击一个瓦片</translation>
    </message>
  </context>
  <context>
    <name>SplitRasterAlgorithm</name>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="44" />
      <source>Input raster</source>
      <translation>输入栅格</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="47" />
      <source>Tile size (pixels)</source>
      <translation>瓦片大小（像素）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="52" />
      <source>Overlap between neighbouring tiles (pixels)</source>
      <translation>相邻瓦片的重叠（像素）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="58" />
      <source>Partial tiles at the right and bottom edges</source>
      <translation>右边缘和下边缘的不完整瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="60" />
      <source>Drop them</source>
      <translation>丢弃</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="61" />
      <source>Pad them to full size with nodata</source>
      <translation>用无数据值填充至完整大小</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="62" />
      <source>Keep them partial</source>
      <translation>保留为不完整瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="70" />
      <source>Skip tiles with a valid-pixel fraction below</source>
      <translation>跳过有效像素比例低于此值的瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="78" />
      <source>Tile name prefix (default: raster file name)</source>
      <translation>瓦片名称前缀（默认：栅格文件名）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="81" />
      <source>Tile compression</source>
      <translation>瓦片压缩方式</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="84" />
      <source>Threads (0 = one per CPU core, at most 8)</source>
      <translation>线程数（0 = 每个 CPU 核心一个，最多 8 个）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="89" />
      <source>Tile folder</source>
      <translation>瓦片文件夹</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="92" />
      <source>Tile index</source>
      <translation>瓦片索引</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="95" />
      <source>Number of tiles written</source>
      <translation>写出的瓦片数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="96" />
      <source>Number of tiles skipped</source>
      <translation>跳过的瓦片数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="119" />
      <source>{} tiles written, {} skipped (valid fraction below the threshold)</source>
      <translation>已写出 {} 个瓦片，跳过 {} 个（有效比例低于阈值）</translation>
    </message>
  </context>
  <context>
    <name>TileEmbeddingsAlgorithm</name>
    <message>
      <location filename="../../processing_provider/base.py" line="150" />
      <source>{parameter}: {message}</source>
      <translation>{parameter}：{message}</translation>
    </message>
    <message>
      <location filename="../../processing_provider/base.py" line="156" />
      <source>Canceled: no output was written.</source>
      <translation>已取消：未写入任何输出。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/base.py" line="159" />
      <source>Out of memory. Use smaller tiles or batches, or fewer workers.</source>
      <translation>内存不足。请使用更小的瓦片或批次，或减少工作线程。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/remove_from_index.py" line="18" />
      <source>Remove a raster from a similarity index</source>
      <translation>从相似性索引中移除栅格</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="36" />
      <location filename="../../processing_provider/append_to_index.py" line="43" />
      <location filename="../../processing_provider/remove_from_index.py" line="19" />
      <source>Embeddings and search</source>
      <translation>嵌入与搜索</translation>
    </message>
    <message>
      <location filename="../../processing_provider/classify_tiles.py" line="37" />
      <source>Classify tiles (find all)</source>
      <translation>瓦片分类（查找全部）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="23" />
      <source>Segmentation</source>
      <translation>分割</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="30" />
      <source>Tiled Shepherd segmentation</source>
      <translation>分块 Shepherd 分割</translation>
    </message>
    <message>
      <location filename="../../processing_provider/bbox_mask.py" line="22" />
      <source>Clip raster to study-area extent</source>
      <translation>将栅格裁剪到研究区范围</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tile_sets.py" line="13" />
      <source>Raster preparation</source>
      <translation>栅格预处理</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tile_sets.py" line="26" />
      <source>{}: the layer has no 'path' field, so it is not a tile index. Make one with 'Split raster into tiles', or give a folder of tiles instead.</source>
      <translation>{}：该图层没有“path”字段，因此不是瓦片索引。请用“将栅格分割为瓦片”生成一个，或改为提供瓦片文件夹。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tile_sets.py" line="66" />
      <source>{}: no raster layer given</source>
      <translation>{}：未提供栅格图层</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tile_sets.py" line="70" />
      <source>{}: '{}' is served by '{}'; save it as a GeoTIFF first (Export &gt; Save As).</source>
      <translation>{}：“{}”由“{}”提供；请先将其另存为 GeoTIFF（导出 &gt; 另存为）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/export_onnx.py" line="21" />
      <source>Export model to ONNX</source>
      <translation>将模型导出为 ONNX</translation>
    </message>
    <message>
      <location filename="../../processing_provider/split_raster.py" line="24" />
      <source>Split raster into tiles</source>
      <translation>将栅格分割为瓦片</translation>
    </message>
    <message>
      <location filename="../../processing_provider/rgb_stretch.py" line="28" />
      <source>Stretch to 8-bit RGB</source>
      <translation>拉伸为 8 位 RGB</translation>
    </message>
    <message>
      <location filename="../../processing_provider/append_to_index.py" line="42" />
      <source>Add rasters to a similarity index</source>
      <translation>向相似性索引添加栅格</translation>
    </message>
    <message>
      <location filename="../../processing_provider/similarity_search.py" line="33" />
      <source>Similarity search</source>
      <translation>相似性搜索</translation>
    </message>
    <message>
      <location filename="../../processing_provider/centroid_layer.py" line="20" />
      <source>Tile centroid layer</source>
      <translation>瓦片中心点图层</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="49" />
      <source>{}: '{}' is not file-based ({}); save it to a file first.</source>
      <translation>{}：“{}”不是基于文件的图层（{}）；请先将其保存为文件。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/embed_tiles.py" line="92" />
      <source>Embed tiles (build a similarity index)</source>
      <translation>嵌入瓦片（构建相似性索引）</translation>
    </message>
  </context>
  <context>
    <name>TileEmbeddingsPlugin</name>
    <message>
      <location filename="../../plugin/main.py" line="55" />
      <source>Similar Tiles</source>
      <translation>相似瓦片</translation>
    </message>
    <message>
      <location filename="../../plugin/main.py" line="58" />
      <source>Click a tile on the map and see the tiles that look like it</source>
      <translation>在地图上单击一个瓦片，查看与它相似的瓦片</translation>
    </message>
    <message>
      <location filename="../../plugin/main.py" line="63" />
      <source>About Tile Embeddings…</source>
      <translation>关于 Tile Embeddings…</translation>
    </message>
    <message>
      <location filename="../../plugin/main.py" line="97" />
      <source>Tile Embeddings {version}

{description}

The algorithms are in the Processing Toolbox under 'Tile Embeddings'.</source>
      <translation>Tile Embeddings {version}

{description}

算法位于处理工具箱的“Tile Embeddings”下。</translation>
    </message>
  </context>
  <context>
    <name>TileEmbeddingsProvider</name>
    <message>
      <location filename="../../processing_provider/provider.py" line="96" />
      <source>Tile Embeddings: tiles, CNN embeddings, similarity search, tiled segmentation</source>
      <translation>Tile Embeddings：瓦片、CNN 嵌入、相似性搜索、分块分割</translation>
    </message>
    <message>
      <location filename="../../processing_provider/provider.py" line="137" />
      <source>Could not load algorithm {}.{}: {}</source>
      <translation>无法加载算法 {}.{}：{}</translation>
    </message>
    <message>
      <location filename="../../processing_provider/provider.py" line="144" />
      <source>Could not load the workflow {}: {}</source>
      <translation>无法加载工作流 {}：{}</translation>
    </message>
  </context>
  <context>
    <name>TileLookup</name>
    <message>
      <location filename="../../plugin/tile_lookup.py" line="91" />
      <source>cannot open the tile layer {}</source>
      <translation>无法打开瓦片图层 {}</translation>
    </message>
  </context>
  <context>
    <name>TiledSegmentationAlgorithm</name>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="60" />
      <source>Input raster</source>
      <translation>输入栅格</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="63" />
      <source>Bands (none selected: all bands)</source>
      <translation>波段（未选择：所有波段）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="68" />
      <source>Number of spectral clusters</source>
      <translation>光谱聚类数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="70" />
      <source>k-means clusters; each 4-connected patch of one cluster starts as a segment (numClusters in RSGISLib and pyshepseg).</source>
      <translation>K 均值聚类数；同一聚类的每个 4 连通斑块作为一个初始分割块（即 RSGISLib 和 pyshepseg 中的 numClusters）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="74" />
      <source>Minimum segment size (pixels)</source>
      <translation>最小分割块大小（像素）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="76" />
      <source>Segments smaller than this merge into their spectrally nearest larger neighbour, within the maximum spectral distance (minPxls in RSGISLib, minSegmentSize in pyshepseg).</source>
      <translation>小于此值的分割块在最大光谱距离内并入光谱上最近的较大相邻块（即 RSGISLib 中的 minPxls、pyshepseg 中的 minSegmentSize）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="82" />
      <source>Maximum spectral distance for merging (0 = auto)</source>
      <translation>合并的最大光谱距离（0 = 自动）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="85" />
      <source>In standard deviations when bands are standardised, in raw band units otherwise. 0: the median distance between the k-means centres.</source>
      <translation>波段标准化时以标准差为单位，否则以原始波段单位计。0：K 均值中心之间距离的中位数。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="90" />
      <source>Merge every segment still under the minimum size (ignore the spectral distance)</source>
      <translation>合并所有仍小于最小大小的分割块（忽略光谱距离）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="93" />
      <source>A final pass merging each segment left under the minimum size into its nearest neighbour, however different. Off: the published method, which keeps small segments that differ from all their neighbours.</source>
      <translation>最后一轮将每个仍小于最小大小的分割块并入最近的相邻块，无论差异多大。关闭：采用已发表的方法，保留与所有相邻块都不同的小分割块。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="99" />
      <source>Tile width (pixels)</source>
      <translation>瓦片宽度（像素）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="104" />
      <source>Tile height (pixels)</source>
      <translation>瓦片高度（像素）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="109" />
      <source>Worker threads (0 = all cores)</source>
      <translation>工作线程数（0 = 所有核心）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="114" />
      <source>Tile overlap (pixels; keep it at least the minimum segment size)</source>
      <translation>瓦片重叠（像素；至少设为最小分割块大小）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="119" />
      <source>Valid data threshold (tiles with less valid data join a neighbour; 0-1)</source>
      <translation>有效数据阈值（有效数据更少的瓦片并入相邻瓦片；0-1）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="123" />
      <source>K-means sample size (pixels)</source>
      <translation>K 均值样本大小（像素）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="127" />
      <source>Standardise bands for k-means (off: raw band units, as RSGISLib and pyshepseg)</source>
      <translation>为 K 均值标准化波段（关闭：使用原始波段单位，与 RSGISLib 和 pyshepseg 相同）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="131" />
      <source>K-means random seed</source>
      <translation>K 均值随机种子</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="134" />
      <source>Maximum k-means iterations</source>
      <translation>K 均值最大迭代次数</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="138" />
      <source>K-means runs (the closest fit is kept)</source>
      <translation>K 均值运行次数（保留拟合最好的一次）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="143" />
      <source>Dask scheduler address (e.g. tcp://10.0.0.5:8786; empty: local threads)</source>
      <translation>Dask 调度器地址（如 tcp://10.0.0.5:8786；留空：本地线程）</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="150" />
      <source>Segments</source>
      <translation>分割结果</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="153" />
      <source>Segment mean image</source>
      <translation>分割块均值图像</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="158" />
      <source>Segment polygons</source>
      <translation>分割面</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="162" />
      <source>Number of segments</source>
      <translation>分割块数量</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="163" />
      <source>Number of tiles</source>
      <translation>瓦片数量</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="168" />
      <source>Needs the Python package(s) {} (Debian/Ubuntu: apt install python3-numba; elsewhere: pip install numba).</source>
      <translation>需要 Python 包 {}（Debian/Ubuntu：apt install python3-numba；其他系统：pip install numba）。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="180" />
      <source>{}: only {} is supported, got {}</source>
      <translation>{}：只支持 {}，得到的是 {}</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="204" />
      <source>{}: no raster given</source>
      <translation>{}：未提供栅格</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="208" />
      <source>{}: '{}' is not a file-based raster; save it as a GeoTIFF first.</source>
      <translation>{}：“{}”不是基于文件的栅格；请先将其另存为 GeoTIFF。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="247" />
      <source>{}: {} asked for, but the k-means sample has only {} distinct pixel values; used {} clusters.</source>
      <translation>{}：要求 {} 个，但 K 均值样本只有 {} 个不同的像素值；实际使用 {} 个聚类。</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="254" />
      <source>{} segments from {} tile(s), {} clusters, max spectral distance {:.4g} {}, {:.1f} s</source>
      <translation>{} 个分割块，来自 {} 个瓦片，{} 个聚类，最大光谱距离 {:.4g} {}，{:.1f} 秒</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="257" />
      <source>sd</source>
      <translation>标准差</translation>
    </message>
    <message>
      <location filename="../../processing_provider/tiled_segmentation.py" line="257" />
      <source>raw units</source>
      <translation>原始单位</translation>
    </message>
  </context>
</TS>
