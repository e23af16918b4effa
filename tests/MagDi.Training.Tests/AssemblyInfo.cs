using Xunit;

// Trainers, the pretraining trainer and the experiment runner seed torch's process-wide generator (as documented on
// MagDiTrainer): test classes running in parallel would draw from each other's stream and break the exact-trajectory
// assertions (resume, reproduction of the shipped base). The classes run one after the other.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
