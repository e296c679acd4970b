from qa.conversation import repeats, resolve


def test_no_history_is_unchanged():
    assert resolve("What is Harbin?", []) == ("What is Harbin?", "What is Harbin?")


def test_it_refers_to_the_last_answer():
    search, reading = resolve("What is it sometimes called?", [("What is the capital of Heilongjiang province?", "Harbin")])
    assert reading == "What is Harbin sometimes called?"
    assert "Heilongjiang" in search and "Harbin" in search


def test_he_refers_to_the_person_asked_about():
    _, reading = resolve("What did he say about electric cars?", [("Where did Putin visit a trade fair?", "Harbin")])
    assert reading == "What did Putin say about electric cars?"
    _, reading = resolve("Where did he go?", [("Who is the Russian President?", "Vladimir Putin")])
    assert reading == "Where did Vladimir Putin go?"


def test_a_pronoun_taking_up_a_phrase_set_before_the_question_stands_for_that_phrase():
    last = [("What was the first thing Putin did in Harbin on Friday?",
             "He laid flowers at a monument to fallen Soviet soldiers.")]
    assert resolve("Those soldiers — who did they fight?", last)[1] == "who did those soldiers fight?"
    assert resolve("The monument, how did critics rate it", last)[1] == "how did critics rate the monument"
    assert resolve("who did they fight?", last)[1] != "who did those soldiers fight?"  # no phrase set before it


def test_there_becomes_a_place():
    _, reading = resolve("Who did Putin meet there?", [("Which city did Putin visit?", "Harbin")])
    assert reading == "Who did Putin meet in Harbin?"


def test_elliptical_follow_ups_take_the_last_question():
    trade = [("How large was trade between Russia and China last year?", "$240 billion")]
    assert resolve("And in euros?", trade)[1] == "How large was trade between Russia and China last year in euros?"
    assert resolve("Why?", trade)[1] == "Why was trade between Russia and China last year $240 billion?"
    cars = [("Why did the car chip business fall?", "Because carmakers cut orders.")]
    assert resolve("Why?", cars)[1] == "Why carmakers cut orders?"
    assert resolve("Why?", [("Why did Putin go to China?", "")])[1] == "Why did Putin go to China?"
    said = [("What did Putin say about US tariffs?", "unfair competition")]
    assert resolve("What about Xi?", said)[1] == "What did Xi say about US tariffs?"
    assert resolve("and xi?", said)[1] == "What did xi say about US tariffs?"
    harbin = [("Which city did Putin visit?", "Harbin")]
    assert resolve("where is that", harbin)[1] == "where is Harbin"
    assert resolve("Who did Putin meet in Harbin?", harbin)[1] == "Who did Putin meet in Harbin?"  # whole: unchanged
    rival = [("Who is Norvane's main competitor?", "Kestrel Microdevices.")]
    assert resolve("when did theirs open", rival)[1] == "when did Kestrel Microdevices open"
    # a fragment that asks for more of the last answer is not a name put in place of one in the last question
    given = [("What has Russia given China in return?", "Cheap access to its natural resources.")]
    assert resolve("Like what?", given)[1] == "What has Russia given China in return Like what?"


def test_a_question_naming_its_own_subject_is_searched_on_its_own():
    names = {"russia", "china", "harbin", "putin"}
    last = [("Why did Putin go to China?", "Visiting a trade fair in the northeastern Chinese city of Harbin")]
    question = "whats the trade between russia n china worth"
    assert resolve(question, last, names=names) == (question, question)
    # it leans on the turn before when it points back or names nothing of its own
    for leaning in ("What did he say about trade?", "What is the city sometimes called?", "And in euros?",
                    "how much did the delay cost em"):
        search, _ = resolve(leaning, last, names=names)
        assert search.startswith("Why did Putin go to China?"), leaning


def test_a_word_capitalised_only_because_it_starts_the_answer_is_no_referent():
    # before: "did the west like For", "why did Shortly fail", "impose He"
    common = {"for", "shortly", "he", "called", "them", "before", "on"}
    last = [("What did Putin thank Xi for?", 'For his "peace plan" for Ukraine.')]
    assert "For" not in resolve("did the west like it", last, common=common)[1].split()
    last = [("When did the levee in Dornbach break?", "Shortly before 2 a.m. on Sunday.")]
    assert "Shortly" not in resolve("why did it fail", last, common=common)[1]
    last = [("What did Putin say about the tariffs?", "He called them an example of unfair competition.")]
    reading = resolve("Why did the Americans impose them, in his view?", last, common=common)[1]
    assert "He" not in reading.split() and "Putin's view" in reading
    # a name that opens the answer is still one
    assert resolve("What is it sometimes called?", [("Which city?", "Harbin")], common=common)[1] == \
        "What is Harbin sometimes called?"


def test_it_stands_for_a_thing_not_for_a_person_a_time_or_an_amount():
    # "it" after "when did X break?" is X, not the time; after "who said …?" it is what was talked about
    last = [("When did the levee in Dornbach break?", "Shortly before 2 a.m. on Sunday.")]
    assert resolve("why did it fail", last, common={"shortly"})[1] == "why did the levee in Dornbach fail"
    last = [('Who said the China-Russia relationship is "hard-earned"?', "Chinese President Xi Jinping")]
    assert resolve("What else did he say about it?", last)[1] == \
        "What else did Chinese President Xi Jinping say about the China-Russia relationship?"
    last = [("What did Putin say about the US tariffs on Chinese electric cars?", "He called them unfair.")]
    assert "the US tariffs on Chinese electric cars" in resolve("Why did the Americans impose them?", last,
                                                                common={"he"})[1]


def test_after_a_yes_no_question_it_is_its_subject_not_the_answer():
    last = [("Is Harbin the capital of Heilongjiang?", "Yes")]
    assert resolve("where is it", last)[1] == "where is Harbin"
    last = [("did bluegum stock go up on the news", "Yes, it jumped 34% to A$2.28.")]
    assert "A$2.28" not in resolve("Is it trading above what Corvida is paying?", last)[1]


def test_a_follow_up_to_a_follow_up_is_read_through_the_whole_chain():
    chain = [("How large was trade between Russia and China last year?", "$240 billion"),
             ("and in euros?", "€221 billion")]
    search, reading = resolve("when was that", chain, turns=3)
    assert "trade between Russia and China" in search and "euros" in search
    assert resolve("when was that", chain, turns=1)[0].startswith("and in euros?")  # one turn: the chain is lost


def test_they_after_a_who_question_is_the_person_or_body_named():
    last = [("Who's the fire chief in Harlow Creek?", "Dale Whitcombe")]
    assert resolve("what did they say abt the fire", last)[1] == "what did Dale Whitcombe say abt the fire"
    last = [("who owns the power line", "Northline Power")]
    assert resolve("What have they said about it?", last)[1].startswith("What have Northline Power said")


def test_a_subject_ends_before_a_trailing_adverb():
    chain = [("How big is the fire now?", "38,500 hectares"), ("and on friday?", "17,000 hectares")]
    assert resolve("Why did it grow so fast?", chain, turns=3)[1] == "Why did the fire grow so fast?"


def test_why_after_a_wh_question_asks_about_its_event_not_its_question_word():
    assert resolve("why", [("How much did Bluegum lose last year?", "A$12 million")])[1] == \
        "why did Bluegum lose last year A$12 million?"
    assert resolve("when was that", [("what did putin n xi sign", "a joint statement")])[1] == \
        "when did putin n xi sign a joint statement?"
    # a sentence's full stop is not part of what "that" stands for
    last = [("how many jobs r going", "About 380 of Bluegum's 1,900 jobs.")]
    assert resolve("What did the union say about that?", last)[1].endswith("1,900 jobs?")


def test_an_answer_the_last_turn_already_gave_is_a_repeat():
    last = "C$1,250 per adult, as a one-time payment."
    assert repeats("C$1,250", last) and repeats("one-time payment", last)
    assert not repeats("C$500", last) and not repeats("1,25", last) and not repeats("", last)
    # the same words with another preposition say nothing new; one new word does
    last = "To the Harbin Institute of Technology."
    assert repeats("at the Harbin Institute of Technology", last) and repeats("Harbin", last)
    assert not repeats("to meet with students", last) and not repeats("Harbin Institute students", last)
