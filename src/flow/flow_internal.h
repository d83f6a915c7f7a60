/*
 * flow_internal.h -- shapes shared by the flow and its layers (not public).
 *
 *   void fg_conv_shape(const fg_model_config *m, int c, int *cin, int *cout)
 *     Channels of conv c (0 .. n_hidden) of a coupling layer's conditioner:
 *     in = c ? hidden[c-1] : 1, out = c < n_hidden ? hidden[c] : 2.
 */
#ifndef FLOWGEN_FLOW_INTERNAL_H
#define FLOWGEN_FLOW_INTERNAL_H

#include "flowgen/config.h"

static inline void fg_conv_shape(const fg_model_config *m, int c, int *cin, int *cout)
{
  *cin = c > 0 ? m->hidden_channels[c - 1] : 1;
  *cout = c < m->n_hidden ? m->hidden_channels[c] : 2;
}

#endif
