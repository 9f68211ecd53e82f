"""The bpy-free core of OHGesture: motion and audio data, the diffusion model,
samplers, training, evaluation and the command-line tool."""
