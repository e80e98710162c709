// The Caffe messages lamina reads, in schema.hpp's declaration language: Caffe's field
// names, types and defaults (from BVLC Caffe's caffe.proto, as of its final 2020 release),
// so that existing model and solver files read unchanged. Fields lamina parses but does
// not act on (engines, GPU settings, data-layer prefetch) are declared so that files using
// them still load.
#include <string>

namespace lamina::schema {

extern const char* const kCaffeSchema;
const char* const kCaffeSchema = R"SCHEMA(
enum Phase TRAIN=0 TEST=1
enum Engine DEFAULT=0 CAFFE=1 CUDNN=2
enum VarianceNorm FAN_IN=0 FAN_OUT=1 AVERAGE=2
enum NormalizationMode FULL=0 VALID=1 BATCH_SIZE=2 NONE=3
enum DimCheckMode STRICT=0 PERMISSIVE=1
enum PoolMethod MAX=0 AVE=1 STOCHASTIC=2
enum RoundMode CEIL=0 FLOOR=1
enum EltwiseOp PROD=0 SUM=1 MAX=2
enum NormRegion ACROSS_CHANNELS=0 WITHIN_CHANNEL=1
enum DB LEVELDB=0 LMDB=1
enum HingeNorm L1=1 L2=2
enum ReductionOp SUM=1 ASUM=2 SUMSQ=3 MEAN=4
enum SnapshotFormat HDF5=0 BINARYPROTO=1
enum SolverMode CPU=0 GPU=1
enum SolverType SGD=0 NESTEROV=1 ADAGRAD=2 RMSPROP=3 ADADELTA=4 ADAM=5
# lamina's own layers (layers/tensor.cpp), for graphs beyond Caffe's layers (ONNX models)
enum ArithmeticOp ADD=0 SUB=1 MUL=2 DIV=3 POW=4 MAX=5 MIN=6
enum V1LayerType NONE=0 ABSVAL=35 ACCURACY=1 ARGMAX=30 BNLL=2 CONCAT=3 CONTRASTIVE_LOSS=37 CONVOLUTION=4 DATA=5 DECONVOLUTION=39 DROPOUT=6 DUMMY_DATA=32 EUCLIDEAN_LOSS=7 ELTWISE=25 EXP=38 FLATTEN=8 HDF5_DATA=9 HDF5_OUTPUT=10 HINGE_LOSS=28 IM2COL=11 IMAGE_DATA=12 INFOGAIN_LOSS=13 INNER_PRODUCT=14 LRN=15 MEMORY_DATA=29 MULTINOMIAL_LOGISTIC_LOSS=16 MVN=34 POOLING=17 POWER=26 RELU=18 SIGMOID=19 SIGMOID_CROSS_ENTROPY_LOSS=27 SILENCE=36 SOFTMAX=20 SOFTMAX_LOSS=21 SPLIT=22 SLICE=33 TANH=23 WINDOW_DATA=24 THRESHOLD=31

message BlobShape
  repeated int64 dim
message BlobProto
  BlobShape shape
  repeated float data
  repeated float diff
  repeated double double_data
  repeated double double_diff
  int32 num = 0
  int32 channels = 0
  int32 height = 0
  int32 width = 0
message FillerParameter
  string type = "constant" {constant uniform gaussian positive_unitball xavier msra bilinear}
  float value = 0
  float min = 0
  float max = 1
  float mean = 0
  float std = 1
  int32 sparse = -1
  VarianceNorm variance_norm = FAN_IN
message NetState
  Phase phase = TEST
  int32 level = 0
  repeated string stage
message NetStateRule
  Phase phase
  int32 min_level
  int32 max_level
  repeated string stage
  repeated string not_stage
message ParamSpec
  string name
  DimCheckMode share_mode
  float lr_mult = 1
  float decay_mult = 1
message TransformationParameter
  float scale = 1
  bool mirror = false
  uint32 crop_size = 0
  string mean_file
  repeated float mean_value
  bool force_color = false
  bool force_gray = false
message LossParameter
  int32 ignore_label
  NormalizationMode normalization = VALID
  bool normalize

message AccuracyParameter
  uint32 top_k = 1
  int32 axis = 1
  int32 ignore_label
message ArgMaxParameter
  bool out_max_val = false
  uint32 top_k = 1
  int32 axis
message BatchNormParameter
  bool use_global_stats
  float moving_average_fraction = 0.999
  float eps = 1e-5
message BiasParameter
  int32 axis = 1
  int32 num_axes = 1
  FillerParameter filler
message ClipParameter
  required float min
  required float max
message ConcatParameter
  int32 axis = 1
  uint32 concat_dim = 1
message ContrastiveLossParameter
  float margin = 1
  bool legacy_version = false
message ConvolutionParameter
  uint32 num_output
  bool bias_term = true
  repeated uint32 pad
  repeated uint32 kernel_size
  repeated uint32 stride
  repeated uint32 dilation
  uint32 pad_h = 0
  uint32 pad_w = 0
  uint32 kernel_h
  uint32 kernel_w
  uint32 stride_h
  uint32 stride_w
  uint32 group = 1
  FillerParameter weight_filler
  FillerParameter bias_filler
  Engine engine = DEFAULT
  int32 axis = 1
  bool force_nd_im2col = false
message CropParameter
  int32 axis = 2
  repeated uint32 offset
message DataParameter
  string source
  uint32 batch_size
  uint32 rand_skip = 0
  DB backend = LEVELDB
  float scale = 1
  string mean_file
  uint32 crop_size = 0
  bool mirror = false
  bool force_encoded_color = false
  uint32 prefetch = 4
message DropoutParameter
  float dropout_ratio = 0.5
message DummyDataParameter
  repeated FillerParameter data_filler
  repeated BlobShape shape
  repeated uint32 num
  repeated uint32 channels
  repeated uint32 height
  repeated uint32 width
message EltwiseParameter
  EltwiseOp operation = SUM
  repeated float coeff
  bool stable_prod_grad = true
message ELUParameter
  float alpha = 1
message EmbedParameter
  uint32 num_output
  uint32 input_dim
  bool bias_term = true
  FillerParameter weight_filler
  FillerParameter bias_filler
message ExpParameter
  float base = -1
  float scale = 1
  float shift = 0
message FlattenParameter
  int32 axis = 1
  int32 end_axis = -1
message HDF5DataParameter
  string source
  uint32 batch_size
  bool shuffle = false
message HDF5OutputParameter
  string file_name
message HingeLossParameter
  HingeNorm norm = L1
message ImageDataParameter
  string source
  uint32 batch_size = 1
  uint32 rand_skip = 0
  bool shuffle = false
  uint32 new_height = 0
  uint32 new_width = 0
  bool is_color = true
  float scale = 1
  string mean_file
  uint32 crop_size = 0
  bool mirror = false
  string root_folder = ""
message InfogainLossParameter
  string source
  int32 axis = 1
message InnerProductParameter
  uint32 num_output
  bool bias_term = true
  FillerParameter weight_filler
  FillerParameter bias_filler
  int32 axis = 1
  bool transpose = false
message InputParameter
  repeated BlobShape shape
message LogParameter
  float base = -1
  float scale = 1
  float shift = 0
message LRNParameter
  uint32 local_size = 5
  float alpha = 1
  float beta = 0.75
  NormRegion norm_region = ACROSS_CHANNELS
  float k = 1
  Engine engine = DEFAULT
message MemoryDataParameter
  uint32 batch_size
  uint32 channels
  uint32 height
  uint32 width
message MVNParameter
  bool normalize_variance = true
  bool across_channels = false
  float eps = 1e-9
message ParameterParameter
  BlobShape shape
message PoolingParameter
  PoolMethod pool = MAX
  uint32 pad = 0
  uint32 pad_h = 0
  uint32 pad_w = 0
  uint32 kernel_size
  uint32 kernel_h
  uint32 kernel_w
  uint32 stride = 1
  uint32 stride_h
  uint32 stride_w
  Engine engine = DEFAULT
  bool global_pooling = false
  RoundMode round_mode = CEIL
message PowerParameter
  float power = 1
  float scale = 1
  float shift = 0
message PReLUParameter
  FillerParameter filler
  bool channel_shared = false
message PythonParameter
  string module
  string layer
  string param_str = ""
  bool share_in_parallel = false
message RecurrentParameter
  uint32 num_output = 0
  FillerParameter weight_filler
  FillerParameter bias_filler
  bool debug_info = false
  bool expose_hidden = false
  # lamina's extension: SequenceRNN's nonlinearity (layers/recurrent.cpp)
  string nonlinearity = "tanh" {tanh relu}
message ReductionParameter
  ReductionOp operation = SUM
  int32 axis = 0
  float coeff = 1
message ReLUParameter
  float negative_slope = 0
  Engine engine = DEFAULT
message ReshapeParameter
  BlobShape shape
  int32 axis = 0
  int32 num_axes = -1
message ScaleParameter
  int32 axis = 1
  int32 num_axes = 1
  FillerParameter filler
  bool bias_term = false
  FillerParameter bias_filler
message SigmoidParameter
  Engine engine = DEFAULT
message SliceParameter
  int32 axis = 1
  repeated uint32 slice_point
  uint32 slice_dim = 1
message SoftmaxParameter
  Engine engine = DEFAULT
  int32 axis = 1
message SPPParameter
  uint32 pyramid_height
  PoolMethod pool = MAX
  Engine engine = DEFAULT
message SwishParameter
  float beta = 1
message TanHParameter
  Engine engine = DEFAULT
message ThresholdParameter
  float threshold = 0
message TileParameter
  int32 axis = 1
  int32 tiles
# lamina's extensions of the format (Caffe rejects them; Permute is SSD's Caffe fork's):
message PermuteParameter
  repeated uint32 order
message ArithmeticParameter
  ArithmeticOp operation = ADD
message GatherParameter
  int32 axis = 0
  repeated int64 index
  BlobShape index_shape
message WindowDataParameter
  string source
  float scale = 1
  string mean_file
  uint32 batch_size
  uint32 crop_size = 0
  bool mirror = false
  float fg_threshold = 0.5
  float bg_threshold = 0.5
  float fg_fraction = 0.25
  uint32 context_pad = 0
  string crop_mode = "warp" {warp square}
  bool cache_images = false
  string root_folder = ""

message LayerParameter
  string name
  string type
  repeated string bottom
  repeated string top
  Phase phase
  repeated float loss_weight
  repeated ParamSpec param
  repeated BlobProto blobs
  repeated bool propagate_down
  repeated NetStateRule include
  repeated NetStateRule exclude
  TransformationParameter transform_param
  LossParameter loss_param
  AccuracyParameter accuracy_param
  ArgMaxParameter argmax_param
  BatchNormParameter batch_norm_param
  BiasParameter bias_param
  ClipParameter clip_param
  ConcatParameter concat_param
  ContrastiveLossParameter contrastive_loss_param
  ConvolutionParameter convolution_param
  CropParameter crop_param
  DataParameter data_param
  DropoutParameter dropout_param
  DummyDataParameter dummy_data_param
  EltwiseParameter eltwise_param
  ELUParameter elu_param
  EmbedParameter embed_param
  ExpParameter exp_param
  FlattenParameter flatten_param
  HDF5DataParameter hdf5_data_param
  HDF5OutputParameter hdf5_output_param
  HingeLossParameter hinge_loss_param
  ImageDataParameter image_data_param
  InfogainLossParameter infogain_loss_param
  InnerProductParameter inner_product_param
  InputParameter input_param
  LogParameter log_param
  LRNParameter lrn_param
  MemoryDataParameter memory_data_param
  MVNParameter mvn_param
  ParameterParameter parameter_param
  PoolingParameter pooling_param
  PowerParameter power_param
  PReLUParameter prelu_param
  PythonParameter python_param
  RecurrentParameter recurrent_param
  ReductionParameter reduction_param
  ReLUParameter relu_param
  ReshapeParameter reshape_param
  ScaleParameter scale_param
  SigmoidParameter sigmoid_param
  SoftmaxParameter softmax_param
  SPPParameter spp_param
  SliceParameter slice_param
  SwishParameter swish_param
  TanHParameter tanh_param
  ThresholdParameter threshold_param
  TileParameter tile_param
  WindowDataParameter window_data_param
  # lamina's extensions (layers/tensor.cpp)
  PermuteParameter permute_param
  ArithmeticParameter arithmetic_param
  GatherParameter gather_param

message V1LayerParameter
  repeated string bottom
  repeated string top
  string name
  repeated NetStateRule include
  repeated NetStateRule exclude
  V1LayerType type
  repeated BlobProto blobs
  repeated string param
  repeated DimCheckMode blob_share_mode
  repeated float blobs_lr
  repeated float weight_decay
  repeated float loss_weight
  AccuracyParameter accuracy_param
  ArgMaxParameter argmax_param
  ConcatParameter concat_param
  ContrastiveLossParameter contrastive_loss_param
  ConvolutionParameter convolution_param
  DataParameter data_param
  DropoutParameter dropout_param
  DummyDataParameter dummy_data_param
  EltwiseParameter eltwise_param
  ExpParameter exp_param
  HDF5DataParameter hdf5_data_param
  HDF5OutputParameter hdf5_output_param
  HingeLossParameter hinge_loss_param
  ImageDataParameter image_data_param
  InfogainLossParameter infogain_loss_param
  InnerProductParameter inner_product_param
  LRNParameter lrn_param
  MemoryDataParameter memory_data_param
  MVNParameter mvn_param
  PoolingParameter pooling_param
  PowerParameter power_param
  ReLUParameter relu_param
  SigmoidParameter sigmoid_param
  SoftmaxParameter softmax_param
  SliceParameter slice_param
  TanHParameter tanh_param
  ThresholdParameter threshold_param
  WindowDataParameter window_data_param
  TransformationParameter transform_param
  LossParameter loss_param

message NetParameter
  string name
  repeated string input
  repeated BlobShape input_shape
  repeated int32 input_dim
  bool force_backward = false
  NetState state
  bool debug_info = false
  repeated LayerParameter layer
  repeated V1LayerParameter layers

message SolverParameter
  string net
  NetParameter net_param
  string train_net
  repeated string test_net
  NetParameter train_net_param
  repeated NetParameter test_net_param
  NetState train_state
  repeated NetState test_state
  repeated int32 test_iter
  int32 test_interval = 0
  bool test_compute_loss = false
  bool test_initialization = true
  float base_lr
  int32 display
  int32 average_loss = 1
  int32 max_iter
  int32 iter_size = 1
  string lr_policy {fixed step exp inv multistep poly sigmoid cosine}
  float gamma
  float power
  float momentum
  float weight_decay
  string regularization_type = "L2" {L1 L2}
  int32 stepsize
  repeated int32 stepvalue
  float clip_gradients = -1
  int32 snapshot = 0
  string snapshot_prefix
  bool snapshot_diff = false
  SnapshotFormat snapshot_format = BINARYPROTO
  SolverMode solver_mode = GPU
  int32 device_id = 0
  int64 random_seed = -1
  string type = "SGD" {SGD Nesterov AdaGrad RMSProp AdaDelta Adam AdamW}
  float delta = 1e-8
  float momentum2 = 0.999
  float rms_decay = 0.99
  bool debug_info = false
  bool snapshot_after_train = true
  SolverType solver_type = SGD
  bool layer_wise_reduce = true
  repeated string weights
  # lamina's extensions of the format (Caffe rejects them): weights clamped to
  # [-clip_weights, clip_weights] after each update (WGAN-style; < 0 = off), and the
  # cosine policy's linear warm-up over the first warmup_iter iterations; type "AdamW"
  # (Adam with decoupled weight decay, lamina/optim.hpp).
  float clip_weights = -1
  int32 warmup_iter = 0
)SCHEMA";

}  // namespace lamina::schema
