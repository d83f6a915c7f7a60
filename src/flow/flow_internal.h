/*
 * flow_internal.h -- what the flow and its layer types share (not public).
 *
 *   extern const fg_layer_type *const fg_layer_types[]; extern const int fg_nlayer_types
 *     Every layer type, in canonical parameter order (params.c).
 */
#ifndef FLOWGEN_FLOW_INTERNAL_H
#define FLOWGEN_FLOW_INTERNAL_H

#include "flowgen/flow.h"

extern const fg_layer_type *const fg_layer_types[];
extern const int fg_nlayer_types;

#endif
