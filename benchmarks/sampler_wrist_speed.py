"""Mean wrist speed of each sampler against the 1000-step reference, seeds 0 and 1, without
re-timing or smoothing (the sampler alone).

    python benchmarks/sampler_wrist_speed.py MODEL.safetensors SPEECH.wav neutral,sad
"""
import sys, numpy as np, time
from ohgesture.core.generation import pipeline as P
from ohgesture.core.audio.features import audio_features_from_file
from ohgesture.core.motion.measures import wrist_speeds
lm = P.load_model(sys.argv[1], 'cpu')
wav = sys.argv[2]
feats = audio_features_from_file(wav, lm.fps, config=lm.audio_config)
for e in sys.argv[3].split(','):
    out = [e]
    for sampler, steps in (('dpmpp_2m', 20), ('dpmpp_2m', 50), ('ddim', 25), ('ddpm', 1000)):
        sp = []
        t = time.time()
        for seed in (0, 1):
            f = P.generate_features(lm, feats, [e], np.ones(1), sampler=sampler, steps=steps, seed=seed, retime=False, smoothing_hz=0)
            sp.append(wrist_speeds(P.features_to_output(lm, f)).mean())
        out.append(f'{sampler}:{steps} {np.mean(sp):.1f} ({time.time()-t:.0f}s)')
    print(' | '.join(out), flush=True)
