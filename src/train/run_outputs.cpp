// Export of the final model and multipliers for analysis in Python.
#include "normscale/train/run_outputs.hpp"

#include "normscale/data/npy.hpp"
#include "normscale/metrics/gallery.hpp"
#include "normscale/metrics/support_vectors.hpp"

#include <filesystem>

namespace normscale {

template <class T>
void write_weights(const std::string& dir, const Network<T>& network) {
  const auto save = [&](const NamedWeight<T>& w, const char* suffix) {
    const std::string path = (std::filesystem::path(dir) / (w.name + suffix)).string();
    write_npy(path, {w.matrix.rows(), w.matrix.cols()}, w.matrix.data());
  };
  for (const auto& w : network.weights()) save(w, "_weight.npy");
  for (const auto& b : network.biases()) {
    const std::string path = (std::filesystem::path(dir) / (b.name + "_bias.npy")).string();
    write_npy(path, {b.matrix.cols()}, b.matrix.data());
  }
}

void write_multipliers(const std::string& dir, const MultiplierStore& store, const Dataset& train,
                       Index gallery) {
  const std::filesystem::path base(dir);
  write_npy((base / "alpha.npy").string(), {store.count(), store.per_example()}, store.values().data());
  write_support_vectors_csv((base / "support_vectors.csv").string(), store, train);
  if (gallery > 0 && train.image.valid()) {
    std::vector<Index> rows = top_support_vectors(store, gallery);
    if (rows.empty()) return;
    for (Index& id : rows) id -= train.first_id;
    write_gallery_png((base / "support_vectors.png").string(), train, rows, 16);
  }
}

template void write_weights<float>(const std::string&, const Network<float>&);
template void write_weights<double>(const std::string&, const Network<double>&);

}  // namespace normscale
