// Every element functor the CUDA backend runs, instantiated once (see launch.hpp).
#include "kernels/common/activation.hpp"
#include "kernels/common/adaptive_pool2d.hpp"
#include "kernels/common/add.hpp"
#include "kernels/common/batch_assembly.hpp"
#include "kernels/common/batch_norm.hpp"
#include "kernels/common/batch_norm_fold.hpp"
#include "kernels/common/bf16.hpp"
#include "kernels/common/classification.hpp"
#include "kernels/common/concat.hpp"
#include "kernels/common/drop_path.hpp"
#include "kernels/common/dropout.hpp"
#include "kernels/common/eval_tally.hpp"
#include "kernels/common/fill.hpp"
#include "kernels/common/layer_norm.hpp"
#include "kernels/common/init.hpp"
#include "kernels/common/linear.hpp"
#include "kernels/common/lookahead.hpp"
#include "kernels/common/lrn.hpp"
#include "kernels/common/muon.hpp"
#include "kernels/common/optimizers.hpp"
#include "kernels/common/pool2d.hpp"
#include "kernels/common/tta_views.hpp"
#include "kernels/common/scale.hpp"
#include "kernels/common/scale_channels.hpp"
#include "kernels/common/softmax_cross_entropy.hpp"
#include "kernels/common/step_ledger.hpp"
#include "kernels/common/tokens.hpp"
#include "kernels/common/weight_ema.hpp"
#include "kernels/common/zero_pad_shortcut.hpp"
#include "kernels/cuda/launch.cuh"

KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ReluForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ReluBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::TanhForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::TanhBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::Fill)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::MaxPool2dForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::MaxPool2dBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AvgPool2dForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AvgPool2dBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AdaptiveAvgPool2dForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AdaptiveAvgPool2dBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::GlobalAvgPool2dBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AdaptiveAvgPool2dRepeatForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AdaptiveAvgPool2dRepeatBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::LrnForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::LrnBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::SgdStep)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::MuonMomentum)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::MuonScaleToNorm)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::MuonCopy)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::MuonApply)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AdamStep)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::StoreStepScalars)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::EmaUpdate)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::SwapBuffers)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::LookaheadPull)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::FoldBatchNorm)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::UniformFill)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::NormalFill)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::DiracRows)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ColumnSums)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::BroadcastBiasRows)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ApplyDropoutMask)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::LayerNormApply)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::LayerNormBackwardInput)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::LayerNormParamGrads)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::SoftmaxCrossEntropyRow)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ArgmaxRows)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::Top1Hits)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::TopkHits)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ScaleInPlace)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::DrawCropFlip)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AssembleBatch)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::GatherLabels)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ClipByNorm)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::TallyRankStep)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::BeginStep)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::RecordStep)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ResetLedgerCounts)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ClearLedger)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AccumulateEvalBatch)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::RoundToBf16)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::PackBf16)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::UnpackBf16)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::SumOperands)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AccumulateInto)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::CopyRowSlices)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::BatchNormEvalStats)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::BatchNormCountBatch)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::BatchNormApply)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::BatchNormBackwardInput)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::SigmoidForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::SigmoidBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::SiluForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::SiluBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::GeluErfForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::GeluTanhForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::GeluErfBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::GeluTanhBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::HardswishForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::HardswishBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::Relu6Forward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::Relu6Backward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ScaleChannelsForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ScaleChannelsGradInput)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ScaleChannelsGradScale)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ZeroPadShortcutForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ZeroPadShortcutBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::TransposeLastTwo)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::PrependToken)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::DropFirstToken)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::SumOverBatch)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AddToEverySample)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::SelectTokenForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::SelectTokenBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ApplyDropPathMask)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ShiftFlipView)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::AddWeighted)
