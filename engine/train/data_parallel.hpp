#pragma once
// The pieces of data-parallel training that are not the step itself (train_step and
// GradientReducer do that): the same starting state on every rank, dropout masks of their own
// per rank, the check that the replicas still agree, and the rank count a run is bound to.
//
// Every rank holds a full replica of the model and the optimizer state and applies the same
// summed gradient, so the replicas stay identical; rank 0's copy is the one that is saved.
#include <cstdint>
#include <string>

#include "engine/checkpoint/checkpoint.hpp"
#include "engine/dist/communicator.hpp"
#include "engine/nn/graph.hpp"
#include "engine/optim/optimizer.hpp"

namespace kestrel::train {

// The dropout seed of `rank`: the run's seed on rank 0 (so one process behaves as it always
// did), a different stream per other rank, or the ranks' rows at the same position in their
// shards would share their dropout masks.
uint64_t dropout_seed_for_rank(uint64_t seed, int rank);

// Copies rank 0's parameters, model state and optimizer state to every rank. Ranks initialise
// from the same seed or load the same checkpoint anyway; this makes agreement a fact rather
// than a hope (different hardware, a checkpoint rewritten between reads).
void broadcast_training_state(dist::Communicator& comm, nn::Graph& graph,
                              optim::Optimizer& optimizer);

// Copies rank 0's model state (buffers such as batch norm's running statistics) to every rank.
// Each rank's training passes update its own copy from its own rows; the trainer calls this
// before every evaluation (and so before every checkpoint), so all ranks evaluate with, and
// rank 0 saves, rank 0's statistics: what PyTorch's DistributedDataParallel gives with its
// default broadcast_buffers=True (rank 0's buffers, updated by rank 0's batches), for one
// transfer per epoch instead of one per step. Training passes never read running statistics,
// so the training itself does not depend on the rule. A model without state sends nothing.
void broadcast_model_state(dist::Communicator& comm, nn::Graph& graph);

// Throws kestrel::Error on every rank when some rank's parameters differ from rank 0's:
// `parameter_norm` (ops::l2_norm of the flat parameters, deterministic) is compared bit for
// bit. Called once per epoch; the cost is two tiny collectives.
void check_replicas_agree(dist::Communicator& comm, double parameter_norm, int64_t epoch);

// The metadata key under which checkpoints record the number of ranks that trained them.
inline constexpr const char* kWorldSizeKey = "world_size";

// Throws kestrel::Error when `checkpoint` was trained with another number of ranks than
// `world_size` (a checkpoint without the key was trained by one process): the data order, the
// global batch and the schedule's steps per epoch all depend on it.
void check_resume_world_size(const checkpoint::LoadedCheckpoint& checkpoint, int world_size);

}  // namespace kestrel::train
