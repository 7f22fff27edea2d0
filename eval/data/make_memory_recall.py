#!/usr/bin/env python3
"""Builds eval/data/memory_recall.json: multi-session conversations between a user and an
assistant, with dated turns, and questions whose evidence turns are known.

What makes it hard on purpose (and not tuned to any public set):
- questions are paraphrased away from the evidence wording (few shared keywords);
- distractor turns: chit-chat, assistant replies, and hard negatives that share the slot's
  words but are about someone else (a colleague's city, a friend's dog);
- facts change over time (the user moves, changes jobs): "now" questions want the latest
  turn, `as_of` questions want the one valid then;
- some questions need two turns (multi-evidence).

Deterministic: `python3 eval/data/make_memory_recall.py` rewrites the same two files: the
test set (memory_recall.json, reported) and a train set from another seed
(memory_recall_train.json, the one ranking settings may be tuned on).
"""

import datetime as dt
import json
import random
from pathlib import Path

SEED = 20261123
TRAIN_SEED = 7
CONVERSATIONS = 6
SESSIONS = 14
TURNS_PER_SESSION = (16, 24)

# slot -> values, statement templates (first mention), update templates, questions.
SLOTS = {
    "city": {
        "values": ["Lisbon", "Montreal", "Osaka", "Tallinn", "Valencia", "Denver", "Leeds", "Porto", "Hamburg", "Perth"],
        "say": [
            "Finally got the keys to the flat in {v}, the view of the harbour is unreal.",
            "We relocated to {v} over the weekend and I'm still surrounded by boxes.",
        ],
        "update": [
            "Big news: I took the offer and we're moving again, this time to {v}. Lease starts Monday.",
            "Unpacked the last box in our new place in {v} today. Third city in two years!",
        ],
        "ask": ["Where does the user live these days?", "Which city is the user based in right now?"],
        "ask_then": ["Where was the user living on {d}?"],
        "other": [
            "My colleague Priya just moved to {v} and keeps sending me pictures.",
            "Reading an article about housing prices in {v}, wild numbers.",
        ],
        "changes": True,
    },
    "employer": {
        "values": ["Northwind Labs", "Hexagon Health", "Bluefin Logistics", "Quarry Games", "Solace Energy", "Tandem Bank"],
        "say": [
            "First week at {v} done. The onboarding buddy system there is great.",
            "Signed the contract with {v} this morning, start date is in two weeks.",
        ],
        "update": [
            "Handed in my notice. I'm joining {v} next month, the team there builds the thing I care about.",
        ],
        "ask": ["Who is the user's employer at the moment?", "Which company pays the user's salary now?"],
        "ask_then": ["Which company was the user working for on {d}?"],
        "other": [
            "My brother interviewed at {v} yesterday, fingers crossed for him.",
        ],
        "changes": True,
    },
    "dog": {
        "values": ["Biscuit", "Pepper", "Miso", "Juniper", "Waffles", "Tango", "Nori"],
        "say": [
            "{v} chewed through another phone charger last night, third one this month.",
            "Took {v} to the vet for her shots, she was very brave about the needle.",
        ],
        "ask": ["What is the name of the user's pet?", "What do they call their four-legged companion?"],
        "other": ["My neighbour's puppy {v} barked all night, I barely slept."],
    },
    "allergy": {
        "values": ["peanuts", "shellfish", "sesame", "kiwi", "mustard"],
        "say": [
            "Note to self: I break out in hives from {v}, so skip any recipe that uses them.",
            "Ended up in urgent care once because of {v}. Never again.",
        ],
        "ask": ["Which ingredient must be kept out of meals cooked for the user?", "What is the user allergic to?"],
        "other": ["My nephew can't have {v} either, birthday parties are a minefield."],
    },
    "partner": {
        "values": ["Sam", "Alex", "Jordan", "Noor", "Kenji", "Ines"],
        "say": [
            "{v} is flying back from a conference on Friday, I should plan a nice dinner.",
            "My partner {v} finally beat me at chess. I demand a rematch.",
        ],
        "ask": ["What is the name of the person the user is in a relationship with?", "Who is the user's significant other?"],
        "other": ["Met my friend's new boyfriend {v} yesterday, nice guy."],
    },
    "language": {
        "values": ["Portuguese", "Japanese", "Estonian", "Korean", "Italian", "Turkish"],
        "say": [
            "Lesson 14 of my {v} course done, the verb endings are brutal.",
            "Practised {v} with a tutor for an hour, I can finally order food without panicking.",
        ],
        "ask": ["Which foreign tongue is the user learning?", "What language course is the user taking?"],
        "other": ["My coworker speaks fluent {v}, I'm so jealous."],
    },
    "coffee": {
        "values": ["black with no sugar", "as an oat flat white", "with a splash of cold milk", "as a double espresso"],
        "say": ["For the record, I drink my coffee {v}. Every single morning."],
        "ask": ["How does the user take their morning brew?", "What is the user's coffee order?"],
        "other": ["The new hire drinks coffee {v}, who does that?"],
    },
    "race": {
        "values": ["Berlin Marathon", "Boston half marathon", "Chicago 10K", "Lisbon Marathon", "Oslo trail ultra"],
        "say": ["Signed up for the {v}! Long runs are up to 25 kilometres now.", "Training block for the {v} starts Monday, six days a week."],
        "ask": ["Which running event is the user preparing for?", "What race has the user entered?"],
        "other": ["My cousin ran the {v} last year and hated every minute."],
    },
    "birthday": {
        "values": ["March 3rd", "July 19th", "October 8th", "December 24th", "May 30th"],
        "say": ["My birthday is on {v}, thinking about a small dinner with friends this year."],
        "ask": ["When does the user celebrate turning a year older?", "On what date is the user's birthday?"],
        "other": ["Don't forget, Priya's birthday is {v}, we should get a card."],
    },
    "manager": {
        "values": ["Dana Whitfield", "Marco Bellini", "Aisha Okafor", "Tomás Ruiz", "Greta Lind"],
        "say": ["{v} approved my conference budget, best boss I've had.", "One-on-one with {v} went well, she wants me to lead the migration."],
        "ask": ["Who does the user report to?", "Who approves the user's expenses at work?"],
        "other": ["{v} from the other department is retiring next month."],
    },
}

CHITCHAT = [
    "What's a good way to keep fresh basil from wilting?",
    "Can you summarise the main arguments for four-day work weeks?",
    "Any tips for falling asleep faster?",
    "Explain the difference between a Roth and a traditional IRA, briefly.",
    "What's a quick vegetarian dinner with chickpeas?",
    "Help me write a polite email declining a meeting.",
    "Why is the sky blue at noon and red at sunset?",
    "Recommend a podcast about the history of science.",
    "How do I remove a red wine stain from a carpet?",
    "What are some good stretches after a long flight?",
    "Give me three ideas for a rainy Sunday.",
    "How long should I boil an egg for a jammy yolk?",
    "Can you check this sentence for grammar: 'Me and him goes to the market'?",
    "What's the capital of Mongolia?",
    "Suggest a name for a book club.",
    "How do noise-cancelling headphones work?",
    "I need a packing list for a weekend of hiking.",
    "What's a polite way to ask a neighbour to turn down music?",
]

REPLIES = [
    "Here are a few options you could try.",
    "Good question. The short answer is that it depends on your situation.",
    "Sure, here's a concise version.",
    "That sounds exciting, congratulations!",
    "Happy to help. Let me know if you want more detail.",
    "I've noted that. Anything else on your mind today?",
]


def iso(d):
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def conversation(rng, cid):
    start = dt.datetime(2026, 1, 5, 9, 0, 0) + dt.timedelta(days=rng.randrange(0, 20))
    session_dates = []
    d = start
    for _ in range(SESSIONS):
        session_dates.append(d)
        d += dt.timedelta(days=rng.randrange(7, 16), hours=rng.randrange(0, 8))

    values = {}
    for slot, spec in SLOTS.items():
        n = 3 if slot == "city" else (2 if spec.get("changes") else 1)
        values[slot] = rng.sample(spec["values"], n)

    # Where each fact is stated: first mentions spread over the early sessions, updates later.
    plan = []  # (session, slot, stage)
    for slot, spec in SLOTS.items():
        first = rng.randrange(0, SESSIONS // 3)
        plan.append((first, slot, 0))
        for stage in range(1, len(values[slot])):
            lo = first + 1 + (stage - 1) * (SESSIONS // 3)
            plan.append((min(SESSIONS - 1, rng.randrange(lo, lo + SESSIONS // 3)), slot, stage))
    # Hard negatives: the slot's wording about someone else, with another value.
    for slot, spec in SLOTS.items():
        for _ in range(2):
            plan.append((rng.randrange(0, SESSIONS), slot, -1))

    turns, evidence = [], {}
    counter = 0
    for s, date in enumerate(session_dates):
        events = [p for p in plan if p[0] == s]
        n = rng.randrange(*TURNS_PER_SESSION)
        slots_at = sorted(rng.sample(range(0, n, 2), min(len(events), n // 2)))
        queue = dict(zip(slots_at, events))
        t = date
        for i in range(n):
            t += dt.timedelta(minutes=rng.randrange(1, 6))
            speaker = "user" if i % 2 == 0 else "assistant"
            if speaker == "user" and i in queue:
                _, slot, stage = queue[i]
                spec = SLOTS[slot]
                if stage < 0:
                    others = [v for v in spec["values"] if v not in values[slot]]
                    text = rng.choice(spec["other"]).format(v=rng.choice(others))
                else:
                    templates = spec["say"] if stage == 0 else spec["update"]
                    text = rng.choice(templates).format(v=values[slot][stage])
                    evidence[(slot, stage)] = (f"c{cid}-t{counter}", iso(t))
            elif speaker == "user":
                text = rng.choice(CHITCHAT)
            else:
                text = rng.choice(REPLIES)
            turns.append({"id": f"c{cid}-t{counter}", "session": s, "date": iso(t), "speaker": speaker, "text": text})
            counter += 1

    questions = []
    qn = 0
    for slot, spec in SLOTS.items():
        stages = [st for st in range(len(values[slot])) if (slot, st) in evidence]
        if not stages:
            continue
        latest = max(stages)
        for q in spec["ask"]:
            questions.append({
                "id": f"c{cid}-q{qn}", "question": q, "evidence": [evidence[(slot, latest)][0]],
                "type": "updated" if latest > 0 else "single", "slot": slot,
            })
            qn += 1
        if spec.get("changes") and latest > 0:
            # Asked as of a moment between the first mention and the update.
            first_at = dt.datetime.strptime(evidence[(slot, 0)][1], "%Y-%m-%dT%H:%M:%SZ")
            next_at = dt.datetime.strptime(evidence[(slot, 1)][1], "%Y-%m-%dT%H:%M:%SZ")
            if next_at - first_at > dt.timedelta(days=2):
                then = first_at + (next_at - first_at) / 2
                for q in spec["ask_then"]:
                    questions.append({
                        "id": f"c{cid}-q{qn}", "question": q.format(d=then.strftime("%B %d")),
                        "evidence": [evidence[(slot, 0)][0]], "type": "temporal", "slot": slot,
                        "as_of": iso(then),
                    })
                    qn += 1
    # Two-turn questions: both facts are needed.
    pairs = [("partner", "city", "Who does the user live with, and in which city?"),
             ("dog", "allergy", "What should a pet sitter know: the pet's name and the food the user can't eat?")]
    for a, b, q in pairs:
        ea = evidence.get((a, len(values[a]) - 1)) or evidence.get((a, 0))
        eb = evidence.get((b, len(values[b]) - 1)) or evidence.get((b, 0))
        if ea and eb:
            questions.append({"id": f"c{cid}-q{qn}", "question": q, "evidence": [ea[0], eb[0]],
                              "type": "multi", "slot": f"{a}+{b}"})
            qn += 1
    return {"id": f"c{cid}", "turns": turns, "questions": questions}


def write(seed, name):
    rng = random.Random(seed)
    data = {"name": "cairn-memory-recall", "version": 1, "seed": seed,
            "conversations": [conversation(rng, c) for c in range(CONVERSATIONS)]}
    out = Path(__file__).with_name(name)
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    turns = sum(len(c["turns"]) for c in data["conversations"])
    qs = sum(len(c["questions"]) for c in data["conversations"])
    print(f"wrote {out}: {CONVERSATIONS} conversations, {turns} turns, {qs} questions")


def main():
    write(SEED, "memory_recall.json")
    write(TRAIN_SEED, "memory_recall_train.json")


if __name__ == "__main__":
    main()
