// evaluate_instruments at every evaluation, through the engine's forward passes.
#include "normscale/train/instrument_readings.hpp"

#include "normscale/core/error.hpp"
#include "normscale/train/instruments.hpp"

namespace normscale {

template <class T>
void InstrumentReadings<T>::evaluate(TrainingContext<T>& context, nlohmann::json& record) {
  NS_CHECK(record.contains("rho"), "the instruments need the evaluation record's \"rho\"; hint: register "
                                   "InstrumentReadings after the EvaluationLog");
  // Null where the instruments have nothing to say (regression, rho = 0, non-finite margins): no fields then.
  const nlohmann::json instruments = evaluate_instruments(context.engine, context.network, context.comm,
                                                          context.data.train, record["rho"].template get<double>());
  if (instruments.is_object()) record.update(instruments);
}

template class InstrumentReadings<float>;
template class InstrumentReadings<double>;

}  // namespace normscale
