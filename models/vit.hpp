#pragma once
// Vision Transformer (Dosovitskiy et al. 2021) as torchvision.models.VisionTransformer, with its
// module paths as layer names, so that parameters carry its state_dict names:
//
//   conv_proj (Conv2d, kernel p, stride p, bias: the patch embedding), patch_tokens
//   ([N, D, H/p, W/p] -> [N, T, D], T = (H/p)(W/p)), class_token (prepends the parameter
//   `class_token` [1, 1, D]), encoder (adds `encoder.pos_embedding` [1, T + 1, D]), L blocks,
//   encoder.ln, class_token_out (token 0), heads.head (Linear D -> classes).
//   block encoder.layers.encoder_layer_i:
//     x1 = x + self_attention(ln_1(x)),  x2 = x1 + mlp.3(mlp.1(mlp.0(ln_2(x1))))
//   ln_1, ln_2: LayerNorm(D, eps 1e-6); self_attention: torch.nn.MultiheadAttention(D, heads,
//   batch_first) (in_proj_weight [3D, D], in_proj_bias, out_proj.weight, out_proj.bias);
//   mlp.0: Linear D -> M, mlp.1: GELU (exact, erf), mlp.3: Linear M -> D. The two sums are
//   add_1 and add_2 (parameter-free, absent from any state_dict).
//
// Dropout is 0, torchvision's default (dropout = attention_dropout = 0.0): its nn.Dropout(0)
// modules (encoder.dropout, each block's dropout, mlp.2, mlp.4) are identities and are left
// out here; the names of everything else are unchanged. Any image size the patch divides is
// taken (the position embedding has T + 1 rows for it); any other is refused.
//
// For images larger than 32x32, vit_b_16: torchvision.models.vit_b_16, patch 16, L = 12
//   blocks, 12 heads, D = 768, M = 3072. On 3x224x224 and 1000 classes: 197 tokens,
//   86,567,656 parameters, 17.56 G multiply-adds per image.
// For images of at most 32x32 (CIFAR-10, MNIST), a small ViT: patch 4, L = 6 blocks, 3 heads,
//   D = 192, M = 384, i.e. torchvision.models.VisionTransformer(image_size=32, patch_size=4,
//   num_layers=6, num_heads=3, hidden_dim=192, mlp_dim=384, num_classes=10). On CIFAR-10:
//   65 tokens, 1,806,538 parameters, 125.3 M multiply-adds per image. DeiT-Tiny's width and
//   head size (192, 64 per head) at half its depth, with ViT-Lite's MLP ratio 2 (Hassani et
//   al. 2021, ViTs for small data sets): a step costs about 3x resnet20's and a quarter of
//   resnet18's CIFAR form, so it trains on a 2-core CPU (its first 20 steps of batch 128 took
//   it to 20.5% top-1 on CIFAR-10's test set).
//
// Starts as torchvision's, whatever the graph's scheme: conv_proj N(0, 1 / fan_in) (its
// trunc_normal_ cuts at 2, over 13 deviations out: the same draw) with bias 0; class_token
// zeros and pos_embedding N(0, 0.02^2); the attention's in_proj_weight xavier_uniform_,
// out_proj.weight nn.Linear's default, both biases 0 (torch.nn.MultiheadAttention's own);
// LayerNorm 1 and 0; the MLP's weights xavier_uniform_ and biases N(0, 1e-6^2); heads.head
// zeros.
#include <memory>

#include "engine/nn/graph.hpp"
#include "models/model_input.hpp"

namespace kestrel::models {

std::unique_ptr<nn::Graph> vit(const ModelInput& in);

}  // namespace kestrel::models
